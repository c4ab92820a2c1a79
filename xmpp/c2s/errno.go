package c2s

import "syscall"

// errTooManyFiles is the accept error worth waiting out rather than
// stopping the listener for.
var errTooManyFiles = syscall.EMFILE
