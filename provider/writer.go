package provider

import "context"

// Writer is implemented by providers that can publish secrets (envdrift
// push). It is optional: a read-only store implements only [Provider].
//
// A Writer only reads and writes. The rules of a push — create-only by
// default, when an existing value may be replaced, which payload shape to
// write — belong to the caller, decided once for every provider.
type Writer interface {
	// Current reads the secret's current value, version and metadata. A
	// secret that does not exist is an error of ErrNotFound.
	Current(ctx context.Context, ref Ref) (Current, error)
	// Put writes req.Value as the secret's new value. With req.Create the
	// secret must not exist: if it does, Put fails with ErrConflict where the
	// store can tell atomically (and, in most stores, where it can tell by
	// reading first). With req.Version set, a store that supports
	// conditional writes fails with ErrConflict when the current version is
	// another. Put never deletes anything: earlier values stay in the
	// store's version history where it keeps one, and metadata keys other
	// than envdrift's stay.
	//
	// A write is a value and then, with Mark or PublicKey, metadata. If the
	// value was written but the metadata was not, Put returns the error
	// together with a PutResult naming the version written; on any other
	// error the result is zero.
	//
	// Without Create, a secret that has disappeared since it was read is
	// written again by some stores (file, Vault, Azure) and is ErrNotFound
	// in others (AWS, GCP).
	Put(ctx context.Context, ref Ref, req PutRequest) (PutResult, error)
}

// Current is a secret's state as a Writer reads it before a write.
type Current struct {
	// Secret holds the current value and version (the version a
	// conditional update must name).
	Secret
	// Marked reports whether the secret carries envdrift's ownership marker
	// (see MarkerKey).
	Marked bool
	// PublicKey is the dotenvx public key recorded in the secret's metadata
	// by an earlier push, "" when none is recorded.
	PublicKey string
}

// PutRequest is one write.
type PutRequest struct {
	// Value is the payload to store.
	Value []byte
	// Create asks for a new secret: the write must not replace one.
	Create bool
	// Version is the version the caller read (Current.Secret.Version); a
	// store with conditional writes refuses the write if the secret has
	// moved on. "" writes unconditionally (or, with Create, only if absent).
	Version string
	// Mark sets envdrift's ownership marker on the secret.
	Mark bool
	// PublicKey, when set, is recorded in the secret's metadata (tags,
	// labels, annotations or custom metadata) under PublicKeyTag.
	PublicKey string
}

// PutResult is the outcome of a Put.
//
// What each built-in store checks atomically (Checked):
//
//	store          create-only            update with Version
//	file           yes (link)             no (no versions)
//	hashicorp KV2  yes (cas=0)            yes (cas=<version>)
//	hashicorp KV1  no (read first)        no (no versions)
//	aws            yes (CreateSecret)     no
//	azure          no (read first)        no (read first)
//	gcp            yes (CreateSecret)*    no
//
// * except when filling a GCP secret that exists without any version.
type PutResult struct {
	// Version is the version the write created, when the store reports one.
	Version string
	// Checked reports whether the store applied PutRequest's condition
	// (Create or Version) atomically. When false the caller reads the
	// secret back to detect a concurrent change. A Put with neither Create
	// nor Version reports false.
	Checked bool
}

// Metadata envdrift writes next to the secrets it publishes. Stores keep it
// as tags (AWS, Azure), annotations (GCP) or custom metadata (Vault KV v2);
// Vault KV v1 and the file provider keep none, so their secrets are never
// Marked.
const (
	// MarkerKey names the ownership marker: a secret whose MarkerKey
	// metadata holds the value "envdrift" was published by envdrift, and
	// `envdrift push --update` may replace it.
	MarkerKey = "managed-by"
	// PublicKeyTag records the dotenvx public key of the published private
	// key, so that the secret can be matched to an env file without reading
	// its value.
	PublicKeyTag = "dotenv-public-key"
)
