package container

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/runtimes"
	"github.com/criserver/criserver/sandbox"
)

// Restoring a checkpoint, as CRI-O does it: CreateContainer whose image is
// the path of a checkpoint archive (see checkpoint.go) makes a container
// on the archive's base image, which must be in the store, with the
// archive's file changes laid over a new upper directory and a spec built,
// as for any container, from the request and the new pod (so that its
// namespaces, cgroup and mounts are the new pod's, and nothing in the
// archive, which is untrusted, steers the host: the archive's spec only
// lends its command when the request has none). Its monitor waits; its
// StartContainer runs `runc restore` on the archive's CRIU images, which
// brings the processes back with their memory, in the new pod.
//
// The new container must have the mounts the checkpointed one had (CRIU
// restores the mount tree it dumped, with the bind mounts' sources taken
// from the new spec): a container made from the same config in the same
// kind of pod has them.
//
//	<container dir>/restore/          the archive, unpacked (checkpoint/ and the dumps)
//	<container dir>/restore/criu-work CRIU's restore.log

// maxDumpSize bounds config.dump and spec.dump, read into memory.
const maxDumpSize = 4 << 20

// checkpointMeta reads an archive's config.dump and spec.dump.
func checkpointMeta(archive string) (*metadata.ContainerConfig, *specs.Spec, error) {
	f, err := os.Open(archive)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: checkpoint archive %s does not exist", errdefs.ErrNotFound, archive)
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var cfg *metadata.ContainerConfig
	var spec *specs.Spec
	tr := tar.NewReader(f)
	for cfg == nil || spec == nil {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: checkpoint archive %s: %w", errdefs.ErrInvalidArgument, archive, err)
		}
		var into any
		switch path.Clean(hdr.Name) {
		case metadata.ConfigDumpFile:
			cfg = &metadata.ContainerConfig{}
			into = cfg
		case metadata.SpecDumpFile:
			spec = &specs.Spec{}
			into = spec
		default:
			continue
		}
		if hdr.Size > maxDumpSize {
			return nil, nil, fmt.Errorf("%w: checkpoint archive %s: %s is over %d bytes", errdefs.ErrInvalidArgument, archive, hdr.Name, maxDumpSize)
		}
		if err := json.NewDecoder(io.LimitReader(tr, maxDumpSize)).Decode(into); err != nil {
			return nil, nil, fmt.Errorf("%w: checkpoint archive %s: %s: %w", errdefs.ErrInvalidArgument, archive, hdr.Name, err)
		}
	}
	if cfg == nil || spec == nil {
		return nil, nil, fmt.Errorf("%w: %s is not a checkpoint archive: it has no %s and %s", errdefs.ErrInvalidArgument, archive, metadata.ConfigDumpFile, metadata.SpecDumpFile)
	}
	return cfg, spec, nil
}

// restoreConfig turns a restore request into the container it makes: the
// archive's base image, and its command when the request names none. It
// returns the image, found in the store.
func (c *Controller) restoreConfig(cfg *Config, sb *sandbox.Sandbox) (*imagestore.Image, error) {
	meta, spec, err := checkpointMeta(cfg.Checkpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Spec.TTY || (spec.Process != nil && spec.Process.Terminal) {
		return nil, fmt.Errorf("%w: a container with a terminal cannot be restored from a checkpoint", errdefs.ErrFailedPrecondition)
	}
	if sb.Config.UserNS != nil {
		return nil, fmt.Errorf("%w: restoring a checkpoint into a pod with a user namespace is not supported", errdefs.ErrFailedPrecondition)
	}
	var img *imagestore.Image
	for _, name := range []string{meta.RootfsImageName, meta.RootfsImage, meta.RootfsImageRef} {
		if name == "" {
			continue
		}
		if img, err = c.images.Get(name); err == nil {
			cfg.Image = name
			break
		}
	}
	if img == nil {
		return nil, fmt.Errorf("%w: checkpoint %s is of image %s (%s), which is not in the image store: pull it first",
			errdefs.ErrFailedPrecondition, cfg.Checkpoint, meta.RootfsImageName, meta.RootfsImageRef)
	}
	if len(cfg.Spec.Command) == 0 && len(cfg.Spec.Args) == 0 && spec.Process != nil {
		cfg.Spec.Command = spec.Process.Args
	}
	return img, nil
}

func (x *Container) restoreDir() string { return filepath.Join(x.Dir, "restore") }

// unpackCheckpoint unpacks the archive into the container's directory and
// lays its file changes over the (not yet mounted) upper directory. Both
// go through the image store's extractor: no entry, link or deleted path
// of the archive can reach outside its directory.
func unpackCheckpoint(x *Container) error {
	dir := x.restoreDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.Open(x.Config.Checkpoint)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := imagestore.Extract(dir, f); err != nil {
		return fmt.Errorf("%w: unpack checkpoint %s: %w", errdefs.ErrInvalidArgument, x.Config.Checkpoint, err)
	}
	if st, err := os.Stat(filepath.Join(dir, metadata.CheckpointDirectory)); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: checkpoint %s has no %s directory of CRIU images", errdefs.ErrInvalidArgument, x.Config.Checkpoint, metadata.CheckpointDirectory)
	}
	upper := filepath.Join(x.Dir, "upper")
	if err := os.MkdirAll(upper, 0o755); err != nil {
		return err
	}
	if diff, err := os.Open(filepath.Join(dir, metadata.RootFsDiffTar)); err == nil {
		err = imagestore.Extract(upper, diff)
		diff.Close()
		if err != nil {
			return fmt.Errorf("%w: checkpoint %s: %s: %w", errdefs.ErrInvalidArgument, x.Config.Checkpoint, metadata.RootFsDiffTar, err)
		}
	}
	deleted, err := deletedFiles(filepath.Join(dir, metadata.DeletedFilesFile))
	if err != nil {
		return fmt.Errorf("%w: checkpoint %s: %w", errdefs.ErrInvalidArgument, x.Config.Checkpoint, err)
	}
	if err := imagestore.Extract(upper, bytes.NewReader(deleted)); err != nil {
		return fmt.Errorf("%w: checkpoint %s: %s: %w", errdefs.ErrInvalidArgument, x.Config.Checkpoint, metadata.DeletedFilesFile, err)
	}
	// The archive's copy of its file changes has served.
	if err := os.Remove(filepath.Join(dir, metadata.RootFsDiffTar)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// deletedFiles renders deleted.files (a JSON list of paths, absolute as
// CRI-O writes them) as a tar of OCI whiteouts; no file is an empty list.
func deletedFiles(file string) ([]byte, error) {
	var paths []string
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		b = []byte("[]")
	} else if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &paths); err != nil {
		return nil, fmt.Errorf("%s: %w", metadata.DeletedFilesFile, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		p = strings.TrimPrefix(path.Clean("/"+p), "/")
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		if err := tw.WriteHeader(&tar.Header{Name: dir + ".wh." + base, Typeflag: tar.TypeReg, Mode: 0o600}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// restoreMonitor is the monitor config of a container that a checkpoint
// restores at its start.
func restoreMonitor(x *Container, cfg monitor.Config) monitor.Config {
	if x.Restore {
		cfg.RestoreImages = filepath.Join(x.restoreDir(), metadata.CheckpointDirectory)
		cfg.RestoreWork = filepath.Join(x.restoreDir(), "criu-work")
	}
	return cfg
}

// restoreTimeout is how long a restore may take: three verbs' time, as
// the monitor allows its runtime (CRIU writes the whole memory back).
type restoreTimeout struct{ runtimes.Runtime }

func (r restoreTimeout) Timeout() time.Duration { return 3 * r.Runtime.Timeout() }

// canceler is a monitor that can end a restore that has not run.
type canceler interface {
	Cancel(ctx context.Context) error
}

var _ canceler = (*monitor.Handle)(nil)

// restoreHint explains CRIU's most likely refusal: it gives each process
// back its PID, so in a PID namespace shared with the pod (whose other
// processes may hold those PIDs) a restore can find one taken.
func restoreHint(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Can't fork for") && strings.Contains(msg, "File exists") {
		return fmt.Errorf("%w (a PID the checkpointed processes had is taken in the new container's PID namespace: "+
			"restore into a pod whose containers have PID namespaces of their own)", err)
	}
	return err
}

// criuConfigAnnotation names, in a container's spec, the CRIU config file
// runc hands CRIU on checkpoint and restore.
const criuConfigAnnotation = "org.criu.config"

// restoreCRIUConfig points CRIU at the new container's cgroup. On cgroup
// v2, runc 1.1 tells CRIU the new cgroup root under the controller name
// "", which CRIU matches with no hierarchy (it calls v2's "unified"), so
// CRIU put the restored processes back into the checkpointed container's
// cgroup (cri-o/cri-o#6894; runc fixed it after 1.1 with its "ignore"
// cgroup mode): outside the new container's cgroup, where its stop cannot
// find them, and under systemd its scope, left empty, is removed. A root
// given without a controller is every hierarchy's, and runc passes the
// file that the spec's org.criu.config names to CRIU, whose options win
// over runc's.
func restoreCRIUConfig(x *Container, s *specs.Spec) error {
	if !cgroup.Unified() {
		return nil
	}
	conf := filepath.Join(x.restoreDir(), "criu.conf")
	if err := os.WriteFile(conf, []byte("cgroup-root "+cgroup.HierarchyPath(x.CgroupsPath)+"\n"), 0o600); err != nil {
		return err
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[criuConfigAnnotation] = conf
	return nil
}
