// Package marker holds the value of envdrift's ownership marker, the
// metadata provider.MarkerKey names on the secrets envdrift push creates.
package marker

// Value is the marker's value: a secret whose MarkerKey tag, label,
// annotation or custom metadata holds it was published by envdrift.
const Value = "envdrift"
