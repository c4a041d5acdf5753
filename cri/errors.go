package cri

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/criserver/criserver/internal/errdefs"
)

var classes = []struct {
	err  error
	code codes.Code
}{
	{errdefs.ErrNotFound, codes.NotFound},
	{errdefs.ErrAlreadyExists, codes.AlreadyExists},
	{errdefs.ErrInvalidArgument, codes.InvalidArgument},
	{errdefs.ErrFailedPrecondition, codes.FailedPrecondition},
	{errdefs.ErrUnauthenticated, codes.Unauthenticated},
	{errdefs.ErrDeadlineExceeded, codes.DeadlineExceeded},
	{errdefs.ErrUnavailable, codes.Unavailable},
	{errdefs.ErrDataLoss, codes.DataLoss},
	{errdefs.ErrInternal, codes.Internal},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
}

// toStatus gives err the gRPC code of its class. An error that already is a
// status (say, Unimplemented) passes through.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, c := range classes {
		if errors.Is(err, c.err) {
			return status.Error(c.code, err.Error())
		}
	}
	return status.Error(codes.Unknown, err.Error())
}

func (s *Server) logFailure(method string, err error) {
	code := status.Code(err)
	level := slog.LevelWarn
	switch code {
	case codes.NotFound, codes.Unimplemented, codes.Canceled:
		level = slog.LevelDebug
	case codes.Unknown, codes.Internal, codes.DataLoss:
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, "request failed", "method", method, "code", code.String(), "err", status.Convert(err).Message())
}

func (s *Server) unaryErrors(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if err != nil {
		err = toStatus(err)
		s.logFailure(info.FullMethod, err)
	}
	return resp, err
}

func (s *Server) streamErrors(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	if err != nil {
		err = toStatus(err)
		s.logFailure(info.FullMethod, err)
	}
	return err
}

// invalid builds an InvalidArgument error from a request problem.
func invalid(msg string) error {
	return status.Error(codes.InvalidArgument, msg)
}
