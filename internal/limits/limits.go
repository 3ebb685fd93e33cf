// Package limits holds the bounds envdrift's packages share.
package limits

// MaxSecretSize is the largest secret payload envdrift accepts, 1 MiB. A
// dotenvx key is 64 bytes and the cloud stores cap secrets at 25–64 KiB, so
// a bigger payload is a misconfiguration; providers refuse it as invalid
// instead of reading it into memory.
const MaxSecretSize = 1 << 20
