package admin

import (
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Without a token, reflection answers only what a client needs to call the
// health service (grpcurl resolves a method through reflection before it
// calls it): so the documented health exemption works from grpcurl while
// the admin service's schema, like its RPCs, needs the token.

// reflectionMethods are the server reflection streams (v1, and v1alpha that
// older clients and grpcurl fall back to).
var reflectionMethods = map[string]bool{
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

const (
	healthPackage = "grpc.health.v1."
	healthFile    = "grpc/health/v1/health.proto"
)

// healthOnlyStream is a reflection stream of a caller without the token: a
// request about anything but the health service ends it Unauthenticated.
type healthOnlyStream struct {
	grpc.ServerStream
}

func (s healthOnlyStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok && healthRequest(pm.ProtoReflect()) {
		return nil
	}
	return status.Error(codes.Unauthenticated, "admin API: without the bearer token reflection describes only grpc.health.v1.Health")
}

// healthRequest reports whether a reflection request asks only about the
// health service.
func healthRequest(m protoreflect.Message) bool {
	oneof := m.Descriptor().Oneofs().ByName("message_request")
	if oneof == nil {
		return false
	}
	fd := m.WhichOneof(oneof)
	if fd == nil {
		return false
	}
	v := m.Get(fd).String()
	switch fd.Name() {
	case "file_containing_symbol":
		return strings.HasPrefix(v, healthPackage)
	case "file_by_filename":
		return v == healthFile
	}
	return false
}
