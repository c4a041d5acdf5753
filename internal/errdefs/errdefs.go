// Package errdefs holds the error classes shared by every criserver package.
//
// Packages wrap one of these sentinels with %w where an error is first known
// to belong to a class; the cri package turns the class into a gRPC code in
// one place. Nothing else should pick gRPC codes.
package errdefs

import "errors"

var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a name or ID is already taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the request itself is malformed.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the object is in the wrong state for the call.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnauthenticated: a registry refused the credentials given.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrDeadlineExceeded: an operation stopped making progress in time.
	ErrDeadlineExceeded = errors.New("deadline exceeded")
	// ErrUnavailable: a remote service could not be reached.
	ErrUnavailable = errors.New("unavailable")
	// ErrDataLoss: content does not match its digest.
	ErrDataLoss = errors.New("data loss")
	// ErrInternal: a component of the node failed on its own (the OCI
	// runtime, a CNI plugin): a fault, not the caller's doing.
	ErrInternal = errors.New("internal")
)
