package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/emptypb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

func renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container, and the pod `run` made for it",
		Long: "Rename a container; one made by run or create has its pod renamed with it. Its hostname\n" +
			"and the paths of its log files keep the old name, as in Docker.",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			return c.rename(cmd.Context(), args[0], args[1])
		}),
	}
}

func (c *client) rename(ctx context.Context, ref, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%q: use letters, digits and _.- (starting with a letter or digit), at most 128", name)
	}
	ct, err := c.findContainer(ctx, ref)
	if err != nil {
		return err
	}
	old := ct.Metadata.GetName()
	if old == name {
		return fmt.Errorf("container %s is already named %s", ref, name)
	}
	renameCtr := func() error {
		return c.containerCall(ctx, api.RenameMethod, api.ContainerRequest{ID: ct.Id, Name: name}, &emptypb.Empty{})
	}
	pod, err := c.cliPodOf(ctx, ct)
	if err != nil || pod == nil {
		if err != nil {
			return err
		}
		return renameCtr()
	}
	// The pod bears the container's name: the name is taken when another
	// CLI pod has it, as run decides.
	if err := c.nameFree(ctx, name); err != nil {
		return err
	}
	if err := c.containerCall(ctx, api.RenamePodMethod, api.ContainerRequest{ID: pod.Id, Name: name}, &emptypb.Empty{}); err != nil {
		return err
	}
	if err := renameCtr(); err != nil {
		undo := c.containerCall(context.WithoutCancel(ctx), api.RenamePodMethod, api.ContainerRequest{ID: pod.Id, Name: old}, &emptypb.Empty{})
		if undo != nil {
			return fmt.Errorf("%w; and its pod %s is left named %s (%v)", err, short(pod.Id), name, undo)
		}
		return err
	}
	return nil
}

// cliPodOf is the pod run or create made for the container, which bears its
// name; nil for any other container.
func (c *client) cliPodOf(ctx context.Context, ct *runtimeapi.Container) (*runtimeapi.PodSandbox, error) {
	if ct.Labels[api.CLILabel] == "" {
		return nil, nil
	}
	resp, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{Id: ct.PodSandboxId}})
	if err != nil {
		return nil, callError(err)
	}
	if len(resp.Items) != 1 || resp.Items[0].Labels[api.CLILabel] == "" || resp.Items[0].Metadata.GetName() != ct.Metadata.GetName() {
		return nil, nil
	}
	return resp.Items[0], nil
}
