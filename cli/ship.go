package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

// shipCommands move images between the node, registries and archives,
// through the daemon's image transfer service (api.ImageTransferService).
func shipCommands() []*cobra.Command {
	return []*cobra.Command{loginCommand(), logoutCommand(), tagCommand(), pushCommand(), saveCommand(), loadCommand()}
}

func tagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			in, err := api.Encode(api.TagRequest{Source: args[0], Target: args[1]})
			if err != nil {
				return err
			}
			return callError(c.conn.Invoke(cmd.Context(), api.TagMethod, in, new(structpb.Struct)))
		}),
	}
}

func pushCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "push NAME[:TAG]",
		Short: "Push an image to its registry",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			quiet, _ := cmd.Flags().GetBool("quiet")
			named, err := reference.ParseNormalizedNamed(args[0])
			if err != nil {
				return fmt.Errorf("invalid reference %q: %v", args[0], err)
			}
			tagged, ok := reference.TagNameOnly(named).(reference.NamedTagged)
			if !ok {
				return fmt.Errorf("push %s: name a tag to push, not a digest", args[0])
			}
			auth, err := credentialsFor(tagged.String())
			if err != nil {
				return err
			}
			req := api.PushRequest{Ref: tagged.String()}
			if auth != nil {
				req.Auth = *auth
			}
			out := cmd.OutOrStdout()
			if quiet {
				out = io.Discard
			}
			fmt.Fprintf(out, "The push refers to repository [%s]\n", tagged.Name())
			final, err := c.push(cmd, req, &pushPrinter{w: out, seen: map[string]string{}})
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(cmd.OutOrStdout(), reference.FamiliarString(tagged))
				return nil
			}
			fmt.Fprintf(out, "%s: digest: %s size: %d\n", tagged.Tag(), final.Digest, final.Size)
			return nil
		}),
	}
	cmd.Flags().BoolP("quiet", "q", false, "print only the name pushed")
	return cmd
}

// push runs a push, showing each progress message, and returns the last.
func (c *client) push(cmd *cobra.Command, req api.PushRequest, p *pushPrinter) (*api.PushProgress, error) {
	in, err := api.Encode(req)
	if err != nil {
		return nil, err
	}
	s, err := c.conn.NewStream(cmd.Context(), &grpc.StreamDesc{ServerStreams: true}, api.PushMethod)
	if err != nil {
		return nil, callError(err)
	}
	if err := s.SendMsg(in); err != nil {
		return nil, callError(err)
	}
	if err := s.CloseSend(); err != nil {
		return nil, callError(err)
	}
	var last api.PushProgress
	for {
		var m structpb.Struct
		if err := s.RecvMsg(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, callError(err)
		}
		if err := api.Decode(&m, &last); err != nil {
			return nil, err
		}
		p.show(last.Layers)
	}
	if last.Digest == "" {
		return nil, errors.New("the daemon ended the push without saying what it wrote")
	}
	return &last, nil
}

// pushPrinter writes a line per layer when its state changes, in Docker's
// words.
type pushPrinter struct {
	w    io.Writer
	seen map[string]string
}

var pushWords = map[string]string{
	"waiting": "Preparing", "pushing": "Pushing", "pushed": "Pushed", "exists": "Layer already exists",
}

func (p *pushPrinter) show(layers []api.LayerProgress) {
	for _, l := range layers {
		if p.seen[l.Digest] == l.State {
			continue
		}
		p.seen[l.Digest] = l.State
		word := pushWords[l.State]
		if word == "" {
			word = l.State
		}
		fmt.Fprintf(p.w, "%s: %s\n", short(l.Digest), word)
	}
}

func saveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "save [-o FILE] IMAGE...",
		Short: "Write images to a tar archive (an OCI layout that docker load also reads)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			file, _ := cmd.Flags().GetString("output")
			if file == "" || file == "-" {
				if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return c.save(cmd, args, cmd.OutOrStdout())
			}
			// Into a temporary file renamed at the end: a failed save
			// leaves no half archive under the name.
			tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+"-")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			if err := c.save(cmd, args, tmp); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Chmod(0o644); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), file)
		}),
	}
	cmd.Flags().StringP("output", "o", "", "write to this file instead of stdout")
	return cmd
}

func (c *client) save(cmd *cobra.Command, names []string, w io.Writer) error {
	in, err := api.Encode(api.SaveRequest{Names: names})
	if err != nil {
		return err
	}
	s, err := c.conn.NewStream(cmd.Context(), &grpc.StreamDesc{ServerStreams: true}, api.SaveMethod)
	if err != nil {
		return callError(err)
	}
	if err := s.SendMsg(in); err != nil {
		return callError(err)
	}
	if err := s.CloseSend(); err != nil {
		return callError(err)
	}
	for {
		var m wrapperspb.BytesValue
		if err := s.RecvMsg(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return callError(err)
		}
		if _, err := w.Write(m.Value); err != nil {
			return err
		}
	}
}

func loadCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "load [-i FILE] [-q]",
		Short: "Load images from a tar archive (docker save's, an OCI layout, or save's)",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			file, _ := cmd.Flags().GetString("input")
			var r io.Reader = cmd.InOrStdin()
			if file != "" && file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			resp, err := c.load(cmd, r)
			if err != nil {
				return err
			}
			for _, im := range resp.Images {
				if len(im.Tags) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image ID: %s\n", im.ID)
				}
				for _, t := range im.Tags {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", familiar(t))
				}
			}
			return nil
		}),
	}
	cmd.Flags().StringP("input", "i", "", "read from this file instead of stdin")
	cmd.Flags().BoolP("quiet", "q", false, "accepted for Docker's sake; load shows no progress")
	return cmd
}

func (c *client) load(cmd *cobra.Command, r io.Reader) (*api.LoadResponse, error) {
	s, err := c.conn.NewStream(cmd.Context(), &grpc.StreamDesc{ClientStreams: true}, api.LoadMethod)
	if err != nil {
		return nil, callError(err)
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
			return nil, rerr
		}
	}
	if err := s.CloseSend(); err != nil {
		return nil, callError(err)
	}
	var m structpb.Struct
	if err := s.RecvMsg(&m); err != nil {
		return nil, callError(err)
	}
	var resp api.LoadResponse
	if err := api.Decode(&m, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// familiar shortens a reference as Docker prints it: busybox:latest.
func familiar(ref string) string {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		return reference.FamiliarString(named)
	}
	return ref
}
