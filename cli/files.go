package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/archive"
)

// filesCommands copy files in and out of containers and show and keep
// their changes, through the daemon's files service (api.FilesService).
func filesCommands() []*cobra.Command {
	return []*cobra.Command{cpCommand(), diffCommand(), commitCommand()}
}

func cpCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  criserver cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files between a container and the local filesystem",
		Long: "Copy files between a container's root filesystem and the local filesystem, running or\n" +
			"stopped. \"-\" reads a tar from stdin or writes one to stdout. Paths in the container are\n" +
			"taken from its root and resolve inside it. Volumes, binds and the files the pod provides\n" +
			"(/etc/hosts and the like) are not reached: a path on one is refused.",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(2)(cmd, args); err != nil {
				return err
			}
			// Checked before the daemon is dialled, as Docker does.
			srcCtr, _ := splitCpArg(args[0])
			dstCtr, _ := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported")
			case srcCtr == "" && dstCtr == "":
				return errors.New("must specify at least one container source")
			}
			return nil
		},
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			o := cpOptions{}
			o.archive, _ = cmd.Flags().GetBool("archive")
			o.follow, _ = cmd.Flags().GetBool("follow-link")
			quiet, _ := cmd.Flags().GetBool("quiet")
			if f, ok := cmd.ErrOrStderr().(*os.File); !quiet && ok && term.IsTerminal(int(f.Fd())) {
				o.progress = cmd.ErrOrStderr()
				o.dstArg = args[1]
			}
			srcCtr, src := splitCpArg(args[0])
			dstCtr, dst := splitCpArg(args[1])
			if srcCtr != "" {
				ct, err := c.findContainer(cmd.Context(), srcCtr)
				if err != nil {
					return err
				}
				if src == "" {
					return errors.New("filepath for the container cannot be empty")
				}
				return c.copyFrom(cmd, ct.Id, src, dst, o)
			}
			ct, err := c.findContainer(cmd.Context(), dstCtr)
			if err != nil {
				return err
			}
			if dst == "" {
				return errors.New("filepath for the container cannot be empty")
			}
			return c.copyTo(cmd, ct.Id, src, dst, o)
		}),
	}
	cmd.Flags().BoolP("archive", "a", false, "archive mode (copy all uid/gid information)")
	cmd.Flags().BoolP("follow-link", "L", false, "always follow symbol link in SRC_PATH")
	cmd.Flags().BoolP("quiet", "q", false, "suppress the summary on stderr")
	return cmd
}

type cpOptions struct {
	archive, follow bool
	progress        io.Writer // nil: quiet
	dstArg          string    // the destination as given, for the summary
}

// splitCpArg splits CONTAINER:PATH; an absolute path or one that starts
// with "." is local even with a colon in it, as in Docker.
func splitCpArg(arg string) (string, string) {
	if strings.HasPrefix(arg, "/") {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

// containerPath takes a path in a container from its root.
func containerPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// contentsOnly reports whether a source path names a directory's contents
// ("dir/.").
func contentsOnly(p string) bool {
	return p == "." || strings.HasSuffix(p, "/.")
}

func (c *client) copyFrom(cmd *cobra.Command, id, src, dst string, o cpOptions) error {
	src = containerPath(src)
	s, err := c.conn.NewStream(cmd.Context(), &grpc.StreamDesc{ServerStreams: true}, api.CopyFromMethod)
	if err != nil {
		return callError(err)
	}
	in, err := api.Encode(api.CopyFromRequest{ID: id, Path: src, FollowLink: o.follow})
	if err != nil {
		return err
	}
	if err := s.SendMsg(in); err != nil {
		return callError(err)
	}
	if err := s.CloseSend(); err != nil {
		return callError(err)
	}
	var msg structpb.Struct
	if err := s.RecvMsg(&msg); err != nil {
		return callError(err)
	}
	var st api.FileStat
	if err := api.Decode(&msg, &st); err != nil {
		return err
	}
	tr := &countingReader{r: &streamReader{s: s}}
	if dst == "-" {
		if _, err := io.Copy(cmd.OutOrStdout(), tr); err != nil {
			return callError(err)
		}
		return nil
	}
	srcDir := fs.FileMode(st.Mode).IsDir()
	if strings.HasSuffix(src, "/") && !srcDir {
		return fmt.Errorf("%s: not a directory", src)
	}
	root, opts, err := localDestination(st.Name, srcDir, contentsOnly(src), dst)
	if err != nil {
		return err
	}
	defer root.Close()
	opts.KeepOwner = o.archive
	if err := archive.Extract(root, "/", tr, opts); err != nil {
		return callError(err)
	}
	if o.progress != nil {
		fmt.Fprintf(o.progress, "Successfully copied %s to %s\n", units.HumanSize(float64(tr.n)), o.dstArg)
	}
	return nil
}

// localDestination applies Docker's cp rules to a local destination: the
// directory the tar is extracted in and how its top entry is renamed.
func localDestination(name string, srcDir, contents bool, dst string) (*os.File, archive.ExtractOptions, error) {
	var o archive.ExtractOptions
	open := func(dir string) (*os.File, error) {
		return os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	dirOnly := strings.HasSuffix(dst, "/")
	if resolved, err := filepath.EvalSymlinks(dst); err == nil {
		dst = resolved // a symlink is written through, as Docker does
	}
	fi, err := os.Stat(dst)
	switch {
	case err == nil && fi.IsDir():
		if srcDir && contents {
			o.From, o.To = name, "."
		}
		r, err := open(dst)
		return r, o, err
	case err == nil:
		if srcDir {
			return nil, o, errors.New("cannot copy a directory to a file")
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, o, err
	case dirOnly && !srcDir:
		return nil, o, fmt.Errorf("the destination directory %s must exist", dst)
	}
	o.From, o.To = name, filepath.Base(dst)
	r, err := open(filepath.Dir(filepath.Clean(dst)))
	return r, o, err
}

func (c *client) copyTo(cmd *cobra.Command, id, src, dst string, o cpOptions) error {
	dst = containerPath(dst)
	req := api.CopyToRequest{ID: id, CopyUIDGID: o.archive}
	var tarStream io.Reader
	if src == "-" {
		st, err := c.stat(cmd, id, dst)
		if err != nil {
			return callError(err)
		}
		if !fs.FileMode(st.Mode).IsDir() {
			return fmt.Errorf("destination \"%s\" must be a directory", dst)
		}
		req.Path, tarStream = dst, cmd.InOrStdin()
	} else {
		r, err := c.localSource(cmd, id, src, dst, o.follow, &req)
		if err != nil {
			return err
		}
		defer r.Close()
		tarStream = r
	}
	counted := &countingReader{r: tarStream}
	if err := c.sendTar(cmd, req, counted); err != nil {
		return err
	}
	if o.progress != nil {
		fmt.Fprintf(o.progress, "Successfully copied %s to %s\n", units.HumanSize(float64(counted.n)), o.dstArg)
	}
	return nil
}

// localSource applies Docker's cp rules to a container destination, filling
// in where req extracts, and returns the tar of src.
func (c *client) localSource(cmd *cobra.Command, id, src, dst string, follow bool, req *api.CopyToRequest) (io.ReadCloser, error) {
	contents := contentsOnly(src)
	clean := filepath.Clean(src)
	if follow {
		resolved, err := filepath.EvalSymlinks(clean)
		if err != nil {
			return nil, err
		}
		clean = resolved
	}
	fi, err := os.Lstat(clean)
	if err != nil {
		return nil, err
	}
	srcDir := fi.IsDir()
	if strings.HasSuffix(src, "/") && !srcDir {
		return nil, fmt.Errorf("%s: not a directory", src)
	}
	name := filepath.Base(clean)
	st, err := c.stat(cmd, id, dst)
	if err == nil && fs.FileMode(st.Mode)&fs.ModeSymlink != 0 {
		// A symlink is written through, as Docker does; the daemon
		// resolves it inside the container.
		if !strings.HasPrefix(st.LinkTarget, "/") {
			st.LinkTarget = path.Join(path.Dir(dst), st.LinkTarget)
		}
		dst = st.LinkTarget
		st, err = c.stat(cmd, id, dst)
	}
	switch {
	case err == nil && fs.FileMode(st.Mode).IsDir():
		req.Path = dst
		if srcDir && contents {
			req.From, req.To = name, "."
		}
	case err == nil:
		if srcDir {
			return nil, errors.New("cannot copy a directory to a file")
		}
		req.Path, req.From, req.To = path.Dir(path.Clean(dst)), name, path.Base(dst)
	case status.Code(err) != codes.NotFound:
		return nil, callError(err)
	case strings.HasSuffix(dst, "/") && !srcDir:
		return nil, fmt.Errorf("the destination directory %s must exist", dst)
	default:
		req.Path, req.From, req.To = path.Dir(path.Clean(dst)), name, path.Base(path.Clean(dst))
	}
	dir, err := os.OpenFile(filepath.Dir(clean), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer dir.Close()
		pw.CloseWithError(archive.Write(pw, dir, name, name, archive.WriteOptions{}))
	}()
	return pr, nil
}

func (c *client) stat(cmd *cobra.Command, id, p string) (*api.FileStat, error) {
	in, err := api.Encode(api.FileRequest{ID: id, Path: p})
	if err != nil {
		return nil, err
	}
	var out structpb.Struct
	if err := c.conn.Invoke(cmd.Context(), api.StatMethod, in, &out); err != nil {
		return nil, err // the caller tells NotFound apart
	}
	var st api.FileStat
	if err := api.Decode(&out, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// sendTar streams req, then the tar r, to CopyTo.
func (c *client) sendTar(cmd *cobra.Command, req api.CopyToRequest, r io.Reader) error {
	s, err := c.conn.NewStream(cmd.Context(), &grpc.StreamDesc{ClientStreams: true}, api.CopyToMethod)
	if err != nil {
		return callError(err)
	}
	in, err := api.Encode(req)
	if err != nil {
		return err
	}
	if err := s.SendMsg(in); err != nil {
		return c.closeAndRecv(s)
	}
	buf := make([]byte, api.ChunkSize)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if err := s.SendMsg(wrapperspb.Bytes(buf[:n])); err != nil {
				break // the daemon ended the call: RecvMsg says why
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	return c.closeAndRecv(s)
}

func (c *client) closeAndRecv(s grpc.ClientStream) error {
	if err := s.CloseSend(); err != nil {
		return callError(err)
	}
	return callError(s.RecvMsg(new(structpb.Struct)))
}

// streamReader reads the BytesValue messages of a server stream as one
// stream of bytes.
type streamReader struct {
	s   grpc.ClientStream
	buf []byte
}

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		var m wrapperspb.BytesValue
		if err := r.s.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, callError(err)
		}
		r.buf = m.Value
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

func diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "List the files a container added (A), changed (C) or deleted (D)",
		Long: "List how a container's root filesystem differs from its image's: A added, C changed,\n" +
			"D deleted, sorted by path. The empty mount points the runtime makes for the container's\n" +
			"mounts are left out.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ct, err := c.findContainer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			in, err := api.Encode(api.FileRequest{ID: ct.Id})
			if err != nil {
				return err
			}
			var out structpb.Struct
			if err := c.conn.Invoke(cmd.Context(), api.DiffMethod, in, &out); err != nil {
				return callError(err)
			}
			var res api.DiffResult
			if err := api.Decode(&out, &res); err != nil {
				return err
			}
			for _, ch := range res.Changes {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		}),
	}
}

func commitCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Long: "Create an image of a container's image and its changes as one more layer, with the\n" +
			"image's config (not the container's: use --change). A running container is paused\n" +
			"meanwhile unless --pause=false.",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ct, err := c.findContainer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			req := api.CommitRequest{ID: ct.Id}
			if len(args) == 2 {
				req.Ref = args[1]
			}
			req.Author, _ = cmd.Flags().GetString("author")
			req.Message, _ = cmd.Flags().GetString("message")
			req.Changes, _ = cmd.Flags().GetStringArray("change")
			req.Pause, _ = cmd.Flags().GetBool("pause")
			in, err := api.Encode(req)
			if err != nil {
				return err
			}
			var out structpb.Struct
			if err := c.conn.Invoke(cmd.Context(), api.CommitMethod, in, &out); err != nil {
				return callError(err)
			}
			var res api.CommitResponse
			if err := api.Decode(&out, &res); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ID)
			return nil
		}),
	}
	cmd.Flags().StringP("author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	cmd.Flags().StringP("message", "m", "", "commit message")
	cmd.Flags().StringArrayP("change", "c", nil, "apply Dockerfile instruction to the created image")
	cmd.Flags().BoolP("pause", "p", true, "pause the container during commit")
	return cmd
}
