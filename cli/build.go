package cli

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

func buildCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] CONTEXT|-",
		Short: "Build an image from a Dockerfile, in the daemon",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			req, sendContext, err := buildInput(cmd, args[0])
			if err != nil {
				return err
			}
			f := cmd.Flags()
			progress, _ := f.GetString("progress")
			quiet, _ := f.GetBool("quiet")
			switch progress {
			case "auto", "plain", "tty":
			case "quiet":
				quiet = true
			default:
				return fmt.Errorf("--progress=%s: want auto, plain or quiet", progress)
			}
			out := cmd.OutOrStdout()
			if quiet {
				out = io.Discard
			}
			res, err := c.build(cmd, req, sendContext, out)
			if err != nil {
				return err
			}
			if iid, _ := f.GetString("iidfile"); iid != "" {
				if err := os.WriteFile(iid, []byte(res.ID), 0o644); err != nil {
					return err
				}
			}
			if quiet {
				fmt.Fprintln(cmd.OutOrStdout(), res.ID)
				return nil
			}
			fmt.Fprintf(out, "Successfully built %s\n", short(res.ID))
			for _, t := range res.Tags {
				fmt.Fprintf(out, "Successfully tagged %s\n", familiar(t))
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringArrayP("tag", "t", nil, "name the image NAME[:TAG] (repeatable)")
	f.StringP("file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile; - for stdin; with a context on stdin, its path in the tar)")
	f.StringArray("build-arg", nil, "set a build arg K=V (K alone: from the environment)")
	f.String("target", "", "build this stage")
	f.StringArray("label", nil, "set a label K=V on the image")
	f.Bool("no-cache", false, "build every step anew")
	f.Bool("pull", false, "pull the FROM images even when the node has them")
	f.String("platform", "", "os/arch to build for: only the node's own")
	f.String("network", "default", "network of the RUN steps: none (default) or host")
	f.String("progress", "auto", "output: auto or plain (step lines and RUN output), quiet")
	f.BoolP("quiet", "q", false, "print only the image ID")
	f.String("iidfile", "", "write the image ID to this file")
	return cmd
}

// buildInput reads the flags, the Dockerfile and where the context comes
// from: a directory (its .dockerignore applied), or with "-" a tar on stdin
// (the Dockerfile inside it, at -f's path) or a lone Dockerfile.
func buildInput(cmd *cobra.Command, contextArg string) (api.BuildRequest, func(io.Writer) error, error) {
	file, _ := cmd.Flags().GetString("file")
	var req api.BuildRequest
	var send func(io.Writer) error
	if contextArg == "-" {
		if file == "-" {
			return req, nil, errors.New("can't use stdin for both build context and dockerfile")
		}
		in, err := readStdinContext(cmd.InOrStdin())
		if err != nil {
			return req, nil, err
		}
		switch {
		case in.tar != nil:
			req.DockerfilePath = file
			if file == "" {
				req.DockerfilePath = "Dockerfile"
			}
			send = func(w io.Writer) error { _, err := io.Copy(w, in.tar); return err }
		case file != "":
			return req, nil, fmt.Errorf("-f %s names a file of a context tar, but stdin holds a Dockerfile", file)
		default:
			req.Dockerfile, send = string(in.dockerfile), emptyContext
		}
	} else {
		if fi, err := os.Stat(contextArg); err != nil {
			return req, nil, fmt.Errorf("unable to prepare context: %v", err)
		} else if !fi.IsDir() {
			return req, nil, fmt.Errorf("unable to prepare context: %s is not a directory", contextArg)
		}
		var raw []byte
		var err error
		switch file {
		case "-":
			raw, err = io.ReadAll(cmd.InOrStdin())
		case "":
			raw, err = os.ReadFile(filepath.Join(contextArg, "Dockerfile"))
		default:
			raw, err = os.ReadFile(file)
		}
		if err != nil {
			return req, nil, fmt.Errorf("unable to read the Dockerfile: %v", err)
		}
		req.Dockerfile = string(raw)
		ignore, err := readIgnore(contextArg)
		if err != nil {
			return req, nil, err
		}
		send = func(w io.Writer) error { return writeContext(w, contextArg, ignore) }
	}
	err := buildFlags(cmd, &req)
	return req, send, err
}

// buildFlags reads the flags that go into the request as they are.
func buildFlags(cmd *cobra.Command, req *api.BuildRequest) error {
	f := cmd.Flags()
	var err error
	tags, _ := f.GetStringArray("tag")
	for _, t := range tags {
		named, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return fmt.Errorf("invalid tag %q: %v", t, err)
		}
		if _, ok := named.(reference.Digested); ok {
			return fmt.Errorf("invalid tag %q: a tag, not a digest", t)
		}
		req.Tags = append(req.Tags, reference.TagNameOnly(named).String())
	}
	if req.Args, err = keyValues(f.GetStringArray("build-arg")); err != nil {
		return err
	}
	if req.Labels, err = keyValues(f.GetStringArray("label")); err != nil {
		return err
	}
	req.Target, _ = f.GetString("target")
	req.NoCache, _ = f.GetBool("no-cache")
	req.Pull, _ = f.GetBool("pull")
	req.Platform, _ = f.GetString("platform")
	req.Network, _ = f.GetString("network")
	switch req.Network {
	case "default", "none", "host":
	default:
		return fmt.Errorf("--network=%s: a build's RUN steps have network none (the default) or host", req.Network)
	}
	return nil
}

// keyValues reads K=V flags; a K alone takes its value from the
// environment, and is left out when the environment has none.
func keyValues(list []string, err error) (map[string]string, error) {
	if err != nil || len(list) == 0 {
		return nil, err
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE", kv)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

// readIgnore reads CONTEXT/.dockerignore, nil when there is none.
func readIgnore(contextDir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %v", err)
	}
	return pm, nil
}

// writeContext writes the context directory as a tar, leaving out what
// .dockerignore excludes. Owners are not sent: COPY makes files root's.
func writeContext(w io.Writer, dir string, ignore *patternmatcher.PatternMatcher) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignore != nil {
			skip, err := ignore.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !ignore.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil // sockets, devices, fifos are no build input
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = rel, 0, 0, "", ""
		h.Format = tar.FormatPAX
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, h.Size)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// build sends the request and the context sendContext writes, and copies the build's output
// to out until the daemon says what it built.
func (c *client) build(cmd *cobra.Command, req api.BuildRequest, sendContext func(io.Writer) error, out io.Writer) (*api.BuildProgress, error) {
	s, err := c.conn.NewStream(cmd.Context(), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, api.BuildMethod)
	if err != nil {
		return nil, callError(err)
	}
	in, err := api.Encode(req)
	if err != nil {
		return nil, err
	}
	if err := s.SendMsg(in); err != nil {
		return nil, callError(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sendContext(pw)) }()
	buf := make([]byte, api.ChunkSize)
	for {
		n, rerr := io.ReadFull(pr, buf)
		if n > 0 {
			if err := s.SendMsg(wrapperspb.Bytes(buf[:n])); err != nil {
				pr.CloseWithError(err)
				break // the daemon ended the call: RecvMsg says why
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("sending the build context: %v", rerr)
		}
	}
	if err := s.CloseSend(); err != nil {
		return nil, callError(err)
	}
	for {
		var m structpb.Struct
		if err := s.RecvMsg(&m); errors.Is(err, io.EOF) {
			return nil, errors.New("the daemon ended the build without saying what it built")
		} else if err != nil {
			return nil, callError(err)
		}
		var p api.BuildProgress
		if err := api.Decode(&m, &p); err != nil {
			return nil, err
		}
		io.WriteString(out, p.Output)
		if p.ID != "" {
			return &p, nil
		}
	}
}
