package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// Listings print rows through Go templates, as Docker's do: a command's
// default table is a template too, so --format 'table {{.ID}}\t{{.Names}}'
// and the default go through the same code. A row is a struct whose string
// fields carry Docker's names (json tags give {{json .}} the same keys) and
// whose `header` tags give the table's column titles.

// addFormatFlags gives a listing --format, --no-trunc and, unless noFilter,
// --filter.
func addFormatFlags(cmd *cobra.Command, noFilter bool) {
	cmd.Flags().String("format", "", "print with a Go template: 'table {{.ID}}\\t...', '{{json .}}' or 'json'")
	cmd.Flags().Bool("no-trunc", false, "do not shorten IDs and commands")
	if !noFilter {
		cmd.Flags().StringArrayP("filter", "f", nil, "only what matches KEY=VALUE (same keys OR, different keys AND)")
	}
}

// rowFormat is how a listing prints its rows: a template, and whether it is
// a table (a header line, tab-aligned cells).
type rowFormat struct {
	tmpl  *template.Template
	table bool
}

// parseRowFormat reads --format (and the older --output, of which only
// table goes through templates) against a default table template. It is
// nil when --output asks for the CRI objects as JSON or YAML instead.
func parseRowFormat(cmd *cobra.Command, def string) (*rowFormat, error) {
	f, _ := cmd.Flags().GetString("format")
	if cmd.Flags().Changed("output") {
		if f != "" {
			return nil, fmt.Errorf("--format and --output cannot be used together")
		}
		o, err := outputFormat(cmd)
		if err != nil || o != "table" {
			return nil, err
		}
	}
	switch f {
	case "", "table":
		f = def
	case "json":
		f = "{{json .}}"
	}
	rf := &rowFormat{}
	if rest, ok := strings.CutPrefix(f, "table"); ok {
		rf.table, f = true, strings.TrimLeft(rest, " ")
	}
	f = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(f)
	t, err := template.New("format").Funcs(templateFuncs).Parse(f)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	rf.tmpl = t
	return rf, nil
}

// templateFuncs are the functions Docker's templates offer.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":     strings.Join,
	"split":    strings.Split,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"title":    func(s string) string { return strings.ToUpper(s[:min(1, len(s))]) + s[min(1, len(s)):] },
	"truncate": func(s string, n int) string { return string([]rune(s)[:min(n, utf8.RuneCountInString(s))]) },
	"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
}

// print executes the template for each row; a table gets a header line,
// the template run on header (a row whose fields hold the column titles),
// unless no row printed anything, as Docker's.
func (f *rowFormat) print(out io.Writer, header any, rows []any) error {
	w := out
	var tw *tabwriter.Writer
	if f.table {
		tw = tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
		w = tw
		if err := f.line(w, header); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if err := f.line(w, r); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func (f *rowFormat) line(w io.Writer, v any) error {
	var b strings.Builder
	if err := f.tmpl.Execute(&b, v); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}

// headerOf is a row of type T whose string fields hold their `header` tags.
func headerOf[T any]() *T {
	h := new(T)
	v := reflect.ValueOf(h).Elem()
	for i := range v.NumField() {
		if name, ok := v.Type().Field(i).Tag.Lookup("header"); ok && v.Field(i).Kind() == reflect.String {
			v.Field(i).SetString(name)
		}
	}
	return h
}

// ellipsis shortens s to n characters, the last of them "…", as Docker's
// ps shortens a command.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// joinLabels is labels as Docker's listings print them: k=v,k=v, sorted.
func joinLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
