package top

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestTableOfRealProcesses(t *testing.T) {
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Process.Kill()
	rows := Table([]int{sleep.Process.Pid, 1 << 30}) // the second does not exist
	if len(rows) != 1 || len(rows[0]) != len(Titles) {
		t.Fatalf("rows %q", rows)
	}
	r := rows[0]
	if r[1] != strconv.Itoa(sleep.Process.Pid) || r[2] != strconv.Itoa(os.Getpid()) || r[7] != "sleep 30" || r[6] != "00:00:00" {
		t.Fatalf("row %q", r)
	}
}

func TestTTY(t *testing.T) {
	for nr, want := range map[int64]string{0: "?", 136<<8 | 3: "pts/3", 4<<8 | 1: "tty1", 137<<8 | 2: "pts/258"} {
		if got := tty(nr); got != want {
			t.Errorf("tty(%#x) = %q, want %q", nr, got, want)
		}
	}
}
