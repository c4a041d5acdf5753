package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

func stopCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "stop [-t SECONDS] CONTAINER...",
		Short:             "Stop running containers: the image's stop signal, then SIGKILL after the timeout",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers(true),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			timeout, _ := cmd.Flags().GetInt64("time")
			if timeout < 0 {
				return fmt.Errorf("-t %d: want a number of seconds, 0 or more", timeout)
			}
			return eachArg(cmd, args, func(ref string) error {
				ct, err := c.findContainer(cmd.Context(), ref)
				if err != nil {
					return err
				}
				if _, err := c.rt.StopContainer(cmd.Context(), &runtimeapi.StopContainerRequest{ContainerId: ct.Id, Timeout: timeout}); err != nil {
					return callError(err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
				return nil
			})
		}),
	}
	cmd.Flags().Int64P("time", "t", 10, "seconds to wait for the container to stop before killing it")
	return cmd
}

func rmCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rm [-f] [-v] CONTAINER|POD...",
		Short: "Remove containers, and the pods `run` made for them; or pods with all their containers",
		Long: "Remove containers, or pods with all their containers. A container made by `criserver run`\n" +
			"goes with its pod and its logs. Running ones are refused unless -f, which kills them first.\n" +
			"With -v the containers' anonymous volumes go too; named volumes stay.",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			force, _ := cmd.Flags().GetBool("force")
			volumes, _ := cmd.Flags().GetBool("volumes")
			return eachArg(cmd, args, func(ref string) error {
				var anonymous []string
				if volumes {
					var err error
					if anonymous, err = c.anonymousVolumesOf(cmd.Context(), ref); err != nil {
						return err
					}
				}
				if err := c.remove(cmd.Context(), ref, force); err != nil {
					return err
				}
				// A volume left by a failure here is volume prune's.
				if err := c.removeVolumes(cmd.Context(), anonymous); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
				return nil
			})
		}),
	}
	cmd.Flags().BoolP("force", "f", false, "kill running containers and pods first")
	cmd.Flags().BoolP("volumes", "v", false, "remove the containers' anonymous volumes too")
	return cmd
}

// eachArg runs fn on every argument, reports each failure on its own line
// and fails at the end if any did, as docker rm and stop do.
func eachArg(cmd *cobra.Command, args []string, fn func(string) error) error {
	failed := 0
	for _, a := range args {
		if err := fn(a); err != nil {
			failed++
			if len(args) == 1 {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "criserver:", err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d failed", failed, len(args))
	}
	return nil
}

// remove takes ref as a container first, then as a pod.
func (c *client) remove(ctx context.Context, ref string, force bool) error {
	ct, err := c.findContainer(ctx, ref)
	var nf *notFoundError
	if errors.As(err, &nf) {
		pod, perr := c.findPod(ctx, ref)
		if errors.As(perr, &nf) {
			return fmt.Errorf("no such container or pod: %s", ref)
		}
		if perr != nil {
			return perr
		}
		return c.removeWholePod(ctx, pod, force)
	}
	if err != nil {
		return err
	}
	if ct.State == runtimeapi.ContainerState_CONTAINER_RUNNING && !force {
		return fmt.Errorf("container %s is running: stop it first, or use rm -f", ref)
	}
	if ct.Labels[api.CLILabel] != "" {
		pods, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{Id: ct.PodSandboxId}})
		if err != nil {
			return callError(err)
		}
		if len(pods.Items) == 1 {
			return c.removeWholePod(ctx, pods.Items[0], true)
		}
	}
	if _, err := c.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ct.Id}); err != nil {
		return callError(err)
	}
	_, err = c.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ct.Id})
	return callError(err)
}

// removeWholePod removes a pod and its containers, and, for a pod `run`
// made, its log directory.
func (c *client) removeWholePod(ctx context.Context, p *runtimeapi.PodSandbox, force bool) error {
	resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: p.Id}})
	if err != nil {
		return callError(err)
	}
	logDir := ""
	for _, ct := range resp.Containers {
		if ct.State == runtimeapi.ContainerState_CONTAINER_RUNNING && !force {
			return fmt.Errorf("pod %s has running container %s: stop it first, or use rm -f", p.Metadata.GetName(), ct.Metadata.GetName())
		}
	}
	if p.Labels[api.CLILabel] != "" {
		logDir = c.cliLogDir(ctx, p, resp.Containers)
	}
	return c.removePod(ctx, p.Id, logDir)
}

// cliLogDir finds the log directory `run` made for a pod from a container's
// log path, and only when it has the form run gives it: the CLI never
// removes a directory it did not make. A pod whose container was never made
// has its directory where run puts them.
func (c *client) cliLogDir(ctx context.Context, p *runtimeapi.PodSandbox, cts []*runtimeapi.Container) string {
	if len(cts) == 0 {
		return filepath.Join(logRoot(), podLogDir(p.Metadata))
	}
	for _, ct := range cts {
		st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ct.Id})
		if err != nil || st.Status.GetLogPath() == "" {
			continue
		}
		// A renamed pod's directory keeps its first name: the UID,
		// random and last, tells it.
		dir := filepath.Dir(filepath.Dir(st.Status.LogPath))
		if base := filepath.Base(dir); strings.HasPrefix(base, cliNamespace+"_") && strings.HasSuffix(base, "_"+p.Metadata.GetUid()) && p.Metadata.GetUid() != "" {
			return dir
		}
	}
	return ""
}
