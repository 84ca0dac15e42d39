// Command gorillahub runs the baseline gorilla/websocket chat hub
// (bench/gorillahub) standalone so the load generator can be pointed at it:
//
//	gorillahub -addr 127.0.0.1:8081
//
// It prints its pid on start (for loadgen -server-pid) and drains on
// SIGINT/SIGTERM. It owns only process setup and must never be deployed as a
// chat server: the hub has no authentication or limits.
package main
