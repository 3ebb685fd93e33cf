package bench

import "os"

// maxRSSKiB is 0: the peak resident set size is not measured on Windows.
func maxRSSKiB(*os.ProcessState) int64 { return 0 }

// flushDisks does nothing on Windows, which has no sync(2).
func flushDisks() {}
