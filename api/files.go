package api

import "time"

// The files service: cp, diff and commit, on the CRI socket beside CRI.
// Requests and replies are Structs holding the types below (see Encode);
// tars travel as BytesValue chunks of at most ChunkSize bytes.
const (
	FilesService = "criserver.v1.Files"
	// StatMethod describes a path in a container: FileRequest in,
	// FileStat out; NotFound when the path is missing.
	StatMethod = "/" + FilesService + "/Stat"
	// CopyFromMethod reads a container's file or tree: CopyFromRequest
	// in; out a FileStat, then BytesValue chunks of a tar whose top entry
	// is the path's base name.
	CopyFromMethod = "/" + FilesService + "/CopyFrom"
	// CopyToMethod writes into a container: a CopyToRequest, then
	// BytesValue chunks of a tar, in; an empty Struct out.
	CopyToMethod = "/" + FilesService + "/CopyTo"
	// DiffMethod lists a container's changes: FileRequest in, DiffResult
	// out.
	DiffMethod = "/" + FilesService + "/Diff"
	// CommitMethod makes an image of a container's changes: CommitRequest
	// in, CommitResponse out.
	CommitMethod = "/" + FilesService + "/Commit"
)

// FileRequest names a container and, for Stat, a path in it.
type FileRequest struct {
	ID   string `json:"id"`
	Path string `json:"path,omitempty"`
}

// FileStat describes a path, as Docker's container path stat does. Mode is
// Go's fs.FileMode bits.
type FileStat struct {
	Name       string    `json:"name"`
	Mode       uint32    `json:"mode"`
	Size       int64     `json:"size"`
	Mtime      time.Time `json:"mtime"`
	LinkTarget string    `json:"linkTarget,omitempty"`
}

// CopyFromRequest asks for the tar of Path; FollowLink follows a symlink
// at Path itself.
type CopyFromRequest struct {
	ID         string `json:"id"`
	Path       string `json:"path"`
	FollowLink bool   `json:"followLink,omitempty"`
}

// CopyToRequest extracts the tar that follows under the directory Path.
// An entry named From, or under From, is made as To (empty From renames
// nothing). CopyUIDGID keeps the tar's owners; else root owns the files.
type CopyToRequest struct {
	ID         string `json:"id"`
	Path       string `json:"path"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	CopyUIDGID bool   `json:"copyUIDGID,omitempty"`
}

// DiffResult lists a container's changes, sorted by path.
type DiffResult struct {
	Changes []FileChange `json:"changes"`
}

// FileChange is one changed path; Kind is "A", "C" or "D".
type FileChange struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
}

// CommitRequest makes an image of container ID's changes on its image,
// tagged Ref when set. Changes are Dockerfile instructions for the config;
// Pause pauses a running container while its changes are read.
type CommitRequest struct {
	ID      string   `json:"id"`
	Ref     string   `json:"ref,omitempty"`
	Author  string   `json:"author,omitempty"`
	Message string   `json:"message,omitempty"`
	Changes []string `json:"changes,omitempty"`
	Pause   bool     `json:"pause,omitempty"`
}

// CommitResponse names the image made.
type CommitResponse struct {
	ID string `json:"id"`
}
