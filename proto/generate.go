// Package proto holds the protobuf definitions of the ICS APIs and the
// generated Go code (see README.md in this directory).
package proto

//go:generate sh gen.sh
