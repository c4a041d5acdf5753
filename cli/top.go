package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/structpb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

func topCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "List a running container's processes",
		Long: "List a running container's processes as ps -ef shows them. The daemon reads them from\n" +
			"the host's /proc, so the image needs no ps; ps options are not taken.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContainers(true),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ct, err := c.findContainer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var resp structpb.Struct
			if err := c.containerCall(cmd.Context(), api.TopMethod, api.ContainerRequest{ID: ct.Id}, &resp); err != nil {
				return err
			}
			t, err := api.DecodeTopResult(&resp)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(t.Titles, "\t"))
			for _, p := range t.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		}),
	}
}

func portCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short:             "List a container's published ports, or the host address of one",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ct, err := c.findContainer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ports, err := c.ports(cmd.Context(), ct.PodSandboxId)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				for _, p := range ports {
					fmt.Fprintf(out, "%d/%s -> %s\n", p.ContainerPort, p.proto(), p.host())
				}
				return nil
			}
			port, proto, _ := strings.Cut(args[1], "/")
			if proto == "" {
				proto = "tcp"
			}
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 {
				return fmt.Errorf("%q is not a port from 1 to 65535, with an optional /tcp, /udp or /sctp", args[1])
			}
			found := false
			for _, p := range ports {
				if p.ContainerPort == int32(n) && p.proto() == strings.ToLower(proto) {
					fmt.Fprintln(out, p.host())
					found = true
				}
			}
			if !found {
				return fmt.Errorf("no public port '%s' published for %s", args[1], args[0]) // Docker's words
			}
			return nil
		}),
	}
}

// portMapping is a published port as the daemon's verbose pod status
// spells it.
type portMapping struct {
	HostPort, ContainerPort int32
	Protocol, HostIP        string
}

// proto is the protocol as Docker writes it; the daemon's record may have
// CRI's upper-case name.
func (p portMapping) proto() string {
	if p.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(p.Protocol)
}

// host is where the port is published: every address when no IP was given.
func (p portMapping) host() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort)))
}

// ports reads a pod's port mappings, in container port order, from the
// daemon's verbose status: CRI's status does not carry them.
func (c *client) ports(ctx context.Context, podID string) ([]portMapping, error) {
	st, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID, Verbose: true})
	if err != nil {
		return nil, callError(err)
	}
	var info struct {
		Config struct{ PortMappings []portMapping } `json:"config"`
	}
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil {
		return nil, fmt.Errorf("the daemon's status of pod %s does not say its ports: %w", short(podID), err)
	}
	ports := info.Config.PortMappings
	slices.SortStableFunc(ports, func(a, b portMapping) int { return int(a.ContainerPort - b.ContainerPort) })
	return ports, nil
}
