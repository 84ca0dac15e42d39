package admin_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// TestReflectionWithoutTokenResolvesOnlyHealth: with -admin-token, a client
// without the token (grpcurl ... grpc.health.v1.Health/Check) can resolve the
// health service through reflection, as grpcurl does before it calls, but
// learns nothing else; with the token reflection answers everything.
func TestReflectionWithoutTokenResolvesOnlyHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{token: "s3cret"})
	bare, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	symbol := func(s string) *reflectionpb.ServerReflectionRequest {
		return &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: s}}
	}
	tests := []struct {
		name   string
		ctx    context.Context
		req    *reflectionpb.ServerReflectionRequest
		wantOK bool
	}{
		{"health service, no token", bare, symbol("grpc.health.v1.Health"), true},
		{"health method, no token", bare, symbol("grpc.health.v1.Health.Check"), true},
		{"health file, no token", bare, &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileByFilename{FileByFilename: "grpc/health/v1/health.proto"}}, true},
		{"admin service, no token", bare, symbol("ics.admin.v1.AdminService"), false},
		{"list services, no token", bare, &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}, false},
		{"admin service, token", e.ctx(t), symbol("ics.admin.v1.AdminService"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(tt.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(tt.req); err != nil {
				t.Fatal(err)
			}
			resp, err := st.Recv()
			if !tt.wantOK {
				wantCode(t, err, codes.Unauthenticated)
				return
			}
			if err != nil {
				t.Fatalf("reflection: %v", err)
			}
			if fd := resp.GetFileDescriptorResponse(); fd == nil && resp.GetListServicesResponse() == nil {
				t.Fatalf("no descriptor in %v", resp)
			}
			_ = st.CloseSend()
		})
	}
	// grpcurl falls back to v1alpha on older servers: same rule there.
	st, err := grpc_reflection_v1alpha.NewServerReflectionClient(e.conn).ServerReflectionInfo(bare)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&grpc_reflection_v1alpha.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1alpha.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "ics.admin.v1.AdminService"}}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Recv()
	wantCode(t, err, codes.Unauthenticated)
}
