package main

import "os"

// maxRSSKiB is not measured on Windows.
func maxRSSKiB(*os.ProcessState) int64 { return 0 }

// flushDisks does nothing on Windows.
func flushDisks() {}
