package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

// The volume commands call the daemon's Volumes service (api.Volume*Method),
// so every client of the daemon sees the same volumes.

func volumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage named volumes",
		Long: "Manage named volumes: directories the daemon keeps under its root (<root>/volumes/NAME/_data)\n" +
			"that outlive containers. `run -v NAME:/path` creates one on first use and fills it with what\n" +
			"the image holds at /path.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(volumeCreateCommand(), volumeListCommand(), volumeInspectCommand(), volumeRemoveCommand(), volumePruneCommand())
	return cmd
}

func volumeCreateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create [--label KEY=VALUE]... [VOLUME]",
		Short: "Create a volume (with a random name when none is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			req := api.VolumeCreate{Labels: map[string]string{}}
			if len(args) == 1 {
				req.Name = args[0]
				if err := api.ValidVolumeName(req.Name); err != nil {
					return err
				}
			}
			if d, _ := cmd.Flags().GetString("driver"); d != "local" {
				return fmt.Errorf("--driver %s: only the local driver is supported", d)
			}
			labels, _ := cmd.Flags().GetStringArray("label")
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if k == "" {
					return fmt.Errorf("--label %q: want KEY=VALUE", l)
				}
				req.Labels[k] = v
			}
			in, err := api.ToStruct(req)
			if err != nil {
				return err
			}
			var v api.Volume
			if err := c.volumeCall(cmd.Context(), api.VolumeCreateMethod, in, &v); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		}),
	}
	cmd.Flags().StringArrayP("label", "l", nil, "set metadata on the volume: KEY=VALUE")
	cmd.Flags().StringP("driver", "d", "local", "volume driver (only local)")
	return cmd
}

func volumeInspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "inspect VOLUME...",
		Short:             "Show volumes as JSON",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeVolumes,
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			docs := []api.Volume{}
			var failed error
			for _, name := range args {
				var v api.Volume
				err := c.volumeCall(cmd.Context(), api.VolumeInspectMethod, wrapperspb.String(name), &v)
				var nf *noSuchVolume
				if errors.As(err, &nf) {
					failed = fmt.Errorf("no such volume: %s", name)
					continue
				}
				if err != nil {
					return err
				}
				docs = append(docs, v)
			}
			b, err := json.MarshalIndent(docs, "", "    ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return failed
		}),
	}
}

func volumeRemoveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "rm [-f] VOLUME...",
		Aliases:           []string{"remove"},
		Short:             "Remove volumes; one a container uses (running or not) is refused",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeVolumes,
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			force, _ := cmd.Flags().GetBool("force")
			return eachArg(cmd, args, func(name string) error {
				err := c.volumeCall(cmd.Context(), api.VolumeRemoveMethod, wrapperspb.String(name), nil)
				var nf *noSuchVolume
				if errors.As(err, &nf) && force {
					return nil
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
				return nil
			})
		}),
	}
	cmd.Flags().BoolP("force", "f", false, "succeed when a volume does not exist")
	return cmd
}

func volumePruneCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune [-a] [-f]",
		Short: "Remove the anonymous volumes no container uses; with -a, every unused volume",
		Long: "Remove the anonymous volumes no container uses (those -v /PATH or an image's VOLUME\n" +
			"made), as Docker 23 does; with -a, named ones too.",
		Args: cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			all, _ := cmd.Flags().GetBool("all")
			if force, _ := cmd.Flags().GetBool("force"); !force {
				what := "anonymous local volumes"
				if all {
					what = "local volumes"
				}
				ok, err := confirm(cmd.InOrStdin(), cmd.OutOrStdout(),
					"WARNING! This will remove all "+what+" not used by at least one container.\nAre you sure you want to continue?")
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("volume prune has been cancelled")
				}
			}
			r, err := c.pruneVolumes(cmd.Context(), all)
			if err != nil {
				return err
			}
			printPruned(cmd.OutOrStdout(), r)
			return nil
		}),
	}
	cmd.Flags().BoolP("force", "f", false, "do not ask for confirmation")
	cmd.Flags().BoolP("all", "a", false, "remove named volumes too")
	return cmd
}

// pruneVolumes asks the daemon to remove the unused anonymous volumes, or
// with all every unused one.
func (c *client) pruneVolumes(ctx context.Context, all bool) (api.VolumePruneReport, error) {
	var r api.VolumePruneReport
	req, err := api.ToStruct(api.VolumePrune{All: all})
	if err != nil {
		return r, err
	}
	return r, c.volumeCall(ctx, api.VolumePruneMethod, req, &r)
}

func printPruned(w io.Writer, r api.VolumePruneReport) {
	if len(r.VolumesDeleted) > 0 {
		fmt.Fprintln(w, "Deleted Volumes:")
		for _, n := range r.VolumesDeleted {
			fmt.Fprintln(w, n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Total reclaimed space:", units.HumanSize(float64(r.SpaceReclaimed)))
}

// confirm asks a yes/no question on out and reads the answer from in; only
// y or yes is yes, as in Docker.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// noSuchVolume is the daemon's NotFound for a volume.
type noSuchVolume struct{ msg string }

func (e *noSuchVolume) Error() string { return e.msg }

// volumeCall invokes one method of the Volumes service and decodes its
// answer into out (nil for none).
func (c *client) volumeCall(ctx context.Context, method string, in any, out any) error {
	resp := new(structpb.Struct)
	var reply any = resp
	if out == nil {
		reply = new(emptypb.Empty)
	}
	if err := c.conn.Invoke(ctx, method, in, reply); err != nil {
		switch status.Code(err) {
		case codes.NotFound:
			return &noSuchVolume{status.Convert(err).Message()}
		case codes.Unimplemented:
			return fmt.Errorf("the daemon at %s keeps no volumes (it is older than named volumes)", c.endpoint)
		}
		return callError(err)
	}
	if out == nil {
		return nil
	}
	return api.FromStruct(resp, out)
}

// completeVolumes offers the daemon's volume names.
func completeVolumes(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	c, err := dial(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer c.conn.Close()
	var list api.VolumeList
	if err := c.volumeCall(cmd.Context(), api.VolumeListMethod, &emptypb.Empty{}, &list); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(list.Volumes))
	for _, v := range list.Volumes {
		names = append(names, v.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
