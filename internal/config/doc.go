// Package config owns the server's settings: one Config struct holding every
// listen address, limit and timeout with its named default, and the flag/env
// binding that fills it (each -flag has an ICS_FLAG environment equivalent).
//
// It must never hold live state or be mutated after the server starts: the
// other packages read a copy of Config once at construction.
package config
