package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// stdinContext is what `build -` read: a context tar (the Dockerfile
// inside it), or, as Docker takes it, a lone Dockerfile and no context.
type stdinContext struct {
	tar        io.Reader // the context, decompressed; nil for a lone Dockerfile
	dockerfile []byte
}

// readStdinContext tells a tar (plain, gzip, bzip2 or zstd) from a
// Dockerfile by magic numbers, as Docker does; a tar is streamed, not read
// into memory.
func readStdinContext(r io.Reader) (*stdinContext, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	var plain io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("the context on stdin: %v", err)
		}
		plain = gz
	case bytes.HasPrefix(magic, []byte("BZh")):
		plain = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("the context on stdin: %v", err)
		}
		plain = zr.IOReadCloser()
	case bytes.HasPrefix(magic, []byte("\xfd7zXZ\x00")):
		return nil, errors.New("the context on stdin is xz-compressed: send it plain or with gzip, bzip2 or zstd")
	}
	pr := bufio.NewReaderSize(plain, 64<<10)
	head, err := pr.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the context on stdin: %v", err)
	}
	if isTarHeader(head) {
		return &stdinContext{tar: pr}, nil
	}
	if plain != io.Reader(br) {
		return nil, errors.New("the compressed input on stdin is not a tar")
	}
	df, err := io.ReadAll(pr)
	if err != nil {
		return nil, fmt.Errorf("reading the Dockerfile on stdin: %v", err)
	}
	return &stdinContext{dockerfile: df}, nil
}

// isTarHeader says whether a block is a tar header: the ustar magic (POSIX
// and GNU) or, for the old format, a checksum that adds up.
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	if string(b[257:262]) == "ustar" {
		return true
	}
	_, err := tar.NewReader(bytes.NewReader(b)).Next()
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

// emptyContext writes a tar with nothing in it: the context of a build
// whose Dockerfile came alone.
func emptyContext(w io.Writer) error { return tar.NewWriter(w).Close() }
