package keymutex

import (
	"sync"
	"testing"
	"time"
)

func TestLockExcludesReadersOfItsKeyOnly(t *testing.T) {
	var m Map
	unlock := m.Lock("a")
	got := make(chan string, 2)
	go func() { m.RLock("a")(); got <- "a" }()
	go func() { m.RLock("b")(); got <- "b" }()
	if k := <-got; k != "b" {
		t.Fatalf("%s got through first", k)
	}
	select {
	case <-got:
		t.Fatal("a reader of a locked key got through")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	<-got
	if len(m.locks) != 0 {
		t.Fatalf("entries left: %v", m.locks)
	}
}

func TestReadersShare(t *testing.T) {
	var m Map
	u1 := m.RLock("a")
	u2 := m.RLock("a") // would deadlock if readers excluded each other
	u1()
	u2()
	var wg sync.WaitGroup
	n := 0
	for range 100 {
		wg.Go(func() {
			defer m.Lock("a")()
			n++
		})
	}
	wg.Wait()
	if n != 100 || len(m.locks) != 0 {
		t.Fatalf("n=%d entries=%v", n, m.locks)
	}
}
