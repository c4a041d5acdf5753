package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// unknownCommand adds suggestions to cobra's error for a mistyped command.
// Cobra's own suggest any command within a fixed distance of 2, which for
// short names proposes another command altogether: `top` (Docker's, not
// ours yet) became `stop`, and `start` became `stats`. Here the distance
// allowed grows with the word: none for 3 letters or fewer (one edit is a
// third of the word), 1 for 4 or 5, 2 from 6; a command the word begins is
// still suggested, as cobra does.
func unknownCommand(root *cobra.Command, err error) error {
	rest, ok := strings.CutPrefix(err.Error(), "unknown command ")
	if !ok {
		return err
	}
	q, qerr := strconv.QuotedPrefix(rest)
	if qerr != nil {
		return err
	}
	typed, _ := strconv.Unquote(q)
	s := suggestions(root, typed)
	if len(s) == 0 {
		return err
	}
	return fmt.Errorf("%w\n\nDid you mean this?\n\t%s", err, strings.Join(s, "\n\t"))
}

// suggestions are the commands close enough to typed to be what was meant.
func suggestions(root *cobra.Command, typed string) []string {
	typed = strings.ToLower(typed)
	allowed := 0
	switch n := len([]rune(typed)); {
	case n >= 6:
		allowed = 2
	case n >= 4:
		allowed = 1
	}
	var out []string
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		name := c.Name()
		if strings.HasPrefix(name, typed) || editDistance(typed, name) <= allowed {
			out = append(out, name)
		}
	}
	return out
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each count one, since
// a swap ("sotp") is as common a typo as a wrong key.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// d[i][j] is the distance between s[:i] and t[:j].
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}
