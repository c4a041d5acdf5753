// Package cri serves the CRI v1 RuntimeService and ImageService over gRPC.
// Handlers validate requests, translate CRI types into the plain values the
// other packages take, and delegate; CRI protobuf types go no further. Errors
// are turned into gRPC codes in one place, errors.go.
package cri
