package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// addOutputFlag gives a listing command --output table|json|yaml.
func addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringP("output", "o", "table", "table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

// outputFormat reads --output and refuses what it cannot print, before any
// call to the daemon.
func outputFormat(cmd *cobra.Command) (string, error) {
	f, _ := cmd.Flags().GetString("output")
	switch f {
	case "table", "json", "yaml":
		return f, nil
	}
	return "", fmt.Errorf("--output %q: want table, json or yaml", f)
}

// render prints a listing: as a table through table, or as a JSON or YAML
// list of the CRI objects with the field and enum names the CRI API gives
// them.
func render[T proto.Message](out io.Writer, format string, items []T, table func(w io.Writer)) error {
	if format == "table" {
		w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
		table(w)
		return w.Flush()
	}
	list := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		b, err := protojson.Marshal(it)
		if err != nil {
			return err
		}
		list = append(list, b)
	}
	return printDoc(out, format, list)
}

// printDoc prints any JSON-marshalable value as indented JSON or as YAML.
func printDoc(out io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}

// protoDoc turns a CRI message into a value printDoc can nest.
func protoDoc(m proto.Message) json.RawMessage {
	b, err := protojson.Marshal(m)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}
