package build

import (
	"archive/tar"
	"bufio"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Overlay marks a deleted file of a lower layer with a 0:0 character device
// in the upper directory, and a directory that hides the lower layers'
// contents with the opaque xattr (trusted., or user. in a user namespace).
// Image layers say the same with .wh.<name> and .wh..wh..opq entries.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// layerFile is a layer being written: a gzip-compressed tar in a temporary
// file, which the caller removes once the store has it.
type layerFile struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	gz   *gzip.Writer
	tw   *tar.Writer
}

func newLayer(dir string) (*layerFile, error) {
	f, err := os.CreateTemp(dir, "layer-")
	if err != nil {
		return nil, err
	}
	l := &layerFile{path: f.Name(), f: f, buf: bufio.NewWriterSize(f, 1<<20)}
	l.gz = gzip.NewWriter(l.buf)
	l.tw = tar.NewWriter(l.gz)
	return l, nil
}

// header writes one entry's header in the PAX format (long names, big
// IDs), with no user or group names: IDs are what the image means.
func (l *layerFile) header(h *tar.Header) error {
	h.Format = tar.FormatPAX
	h.Uname, h.Gname = "", ""
	h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
	h.ModTime = h.ModTime.Truncate(time.Second)
	return l.tw.WriteHeader(h)
}

// file writes an entry with the contents of the file at p.
func (l *layerFile) file(h *tar.Header, p string) error {
	if err := l.header(h); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeReg || h.Size == 0 {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(l.tw, f, h.Size)
	return err
}

// close finishes the archive.
func (l *layerFile) close() error {
	if l.f == nil {
		return nil
	}
	err := l.tw.Close()
	if e := l.gz.Close(); err == nil {
		err = e
	}
	if e := l.buf.Flush(); err == nil {
		err = e
	}
	if e := l.f.Close(); err == nil {
		err = e
	}
	l.f = nil
	return err
}

// remove deletes the file, written or not.
func (l *layerFile) remove() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	os.Remove(l.path)
}
