// Package deps holds the project's import policy as a test: which speclab
// package may import which, checked against the import clauses of every
// package's non-test files, in the manner of the Go tree's
// go/build/deps_test.go. It has no code of its own.
package deps
