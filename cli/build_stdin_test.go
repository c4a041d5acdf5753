package cli

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func contextTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Typeflag: tar.TypeReg, Mode: 0o644, Size: 12})
	tw.Write([]byte("FROM scratch"))
	tw.Close()
	return buf.Bytes()
}

func TestReadStdinContext(t *testing.T) {
	raw := contextTar(t)
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	enc, _ := zstd.NewWriter(&zs)
	enc.Write(raw)
	enc.Close()
	for name, in := range map[string][]byte{"plain": raw, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		c, err := readStdinContext(bytes.NewReader(in))
		if err != nil || c.tar == nil {
			t.Fatalf("%s: %v %+v", name, err, c)
		}
		got, _ := io.ReadAll(c.tar)
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: the tar sent on is not the tar given", name)
		}
	}
	c, err := readStdinContext(strings.NewReader("FROM busybox\nRUN true\n"))
	if err != nil || c.tar != nil || string(c.dockerfile) != "FROM busybox\nRUN true\n" {
		t.Errorf("a Dockerfile: %v %+v", err, c)
	}
	var gzText bytes.Buffer
	zw = gzip.NewWriter(&gzText)
	zw.Write([]byte("FROM busybox\n"))
	zw.Close()
	for name, in := range map[string][]byte{"xz": []byte("\xfd7zXZ\x00rest"), "gzip text": gzText.Bytes()} {
		if _, err := readStdinContext(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
