package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func inspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "inspect CONTAINER|POD|IMAGE...",
		Short:             "Print everything the daemon knows of containers, pods or images, as JSON",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			format, err := outputFormat(cmd)
			if err != nil {
				return err
			}
			if format == "table" {
				format = "json"
			}
			docs := make([]any, 0, len(args))
			for _, ref := range args {
				d, err := c.inspect(cmd, ref)
				if err != nil {
					return err
				}
				docs = append(docs, d)
			}
			return printDoc(cmd.OutOrStdout(), format, docs)
		}),
	}
	cmd.Flags().StringP("output", "o", "json", "json or yaml")
	return cmd
}

// inspectDoc is one object's status and the daemon's verbose info, whose
// values are JSON documents of their own.
type inspectDoc struct {
	Kind   string                     `json:"kind"`
	Status json.RawMessage            `json:"status"`
	Info   map[string]json.RawMessage `json:"info,omitempty"`
}

// inspect takes ref as a container, then a pod, then an image.
func (c *client) inspect(cmd *cobra.Command, ref string) (*inspectDoc, error) {
	ctx := cmd.Context()
	var nf *notFoundError
	ct, err := c.findContainer(ctx, ref)
	if err == nil {
		st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ct.Id, Verbose: true})
		if err != nil {
			return nil, callError(err)
		}
		return &inspectDoc{Kind: "container", Status: protoDoc(st.Status), Info: infoDoc(st.Info)}, nil
	}
	if !errors.As(err, &nf) {
		return nil, err
	}
	p, err := c.findPod(ctx, ref)
	if err == nil {
		st, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.Id, Verbose: true})
		if err != nil {
			return nil, callError(err)
		}
		return &inspectDoc{Kind: "pod", Status: protoDoc(st.Status), Info: infoDoc(st.Info)}, nil
	}
	if !errors.As(err, &nf) {
		return nil, err
	}
	im, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: true})
	if err != nil {
		return nil, callError(err)
	}
	if im.Image == nil {
		return nil, fmt.Errorf("no such container, pod or image: %s", ref)
	}
	return &inspectDoc{Kind: "image", Status: protoDoc(im.Image), Info: infoDoc(im.Info)}, nil
}

// infoDoc nests verbose info values that are JSON as JSON, and quotes the
// rest.
func infoDoc(info map[string]string) map[string]json.RawMessage {
	if len(info) == 0 {
		return nil
	}
	m := make(map[string]json.RawMessage, len(info))
	for k, v := range info {
		if json.Valid([]byte(v)) {
			m[k] = json.RawMessage(v)
		} else {
			b, _ := json.Marshal(v)
			m[k] = b
		}
	}
	return m
}

func infoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Describe the daemon: version, runtime handlers, readiness, image storage",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			format, err := outputFormat(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			v, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{})
			if err != nil {
				return callError(err)
			}
			st, err := c.rt.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
			if err != nil {
				return callError(err)
			}
			fs, err := c.img.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
			if err != nil {
				return callError(err)
			}
			if format != "table" {
				return printDoc(cmd.OutOrStdout(), format, map[string]any{
					"endpoint": c.endpoint, "version": protoDoc(v), "status": protoDoc(st), "imageFs": protoDoc(fs),
					"info": infoDoc(st.Info),
				})
			}
			printInfo(cmd.OutOrStdout(), c.endpoint, v, st, fs)
			return nil
		}),
	}
	addOutputFlag(cmd)
	return cmd
}

func printInfo(w io.Writer, endpoint string, v *runtimeapi.VersionResponse, st *runtimeapi.StatusResponse, fs *runtimeapi.ImageFsInfoResponse) {
	fmt.Fprintf(w, "Endpoint:   %s\n", endpoint)
	fmt.Fprintf(w, "Runtime:    %s %s (CRI %s)\n", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
	fmt.Fprintln(w, "Conditions:")
	for _, cond := range st.Status.GetConditions() {
		line := fmt.Sprintf("  %-16s %v", cond.Type, cond.Status)
		if !cond.Status && cond.Message != "" {
			line += " (" + cond.Message + ")"
		}
		fmt.Fprintln(w, line)
	}
	// The daemon's verbose info says which handlers cannot run containers
	// here, and why: such a handler is listed, but marked.
	var cfg struct {
		Unusable map[string]string `json:"unusableRuntimes"`
	}
	_ = json.Unmarshal([]byte(st.Info["config"]), &cfg)
	fmt.Fprintln(w, "Runtime handlers:")
	handlers := st.RuntimeHandlers
	sort.Slice(handlers, func(i, j int) bool { return handlers[i].Name < handlers[j].Name })
	for _, h := range handlers {
		name := h.Name
		if name == "" {
			name = "(default)"
		}
		var feats []string
		if h.Features.GetUserNamespaces() {
			feats = append(feats, "user namespaces")
		}
		if h.Features.GetRecursiveReadOnlyMounts() {
			feats = append(feats, "recursive read-only mounts")
		}
		if len(feats) > 0 {
			name += " (" + strings.Join(feats, ", ") + ")"
		}
		if why, ok := cfg.Unusable[h.Name]; ok && h.Name != "" {
			name += ": unusable here: " + why
		}
		fmt.Fprintf(w, "  %s\n", name)
	}
	for _, u := range fs.ImageFilesystems {
		fmt.Fprintf(w, "Image store: %s, %s used\n", u.FsId.GetMountpoint(), humanSize(u.UsedBytes.GetValue()))
	}
}
