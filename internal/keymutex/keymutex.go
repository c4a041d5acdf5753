// Package keymutex serialises operations on one ID without blocking others.
package keymutex

import "sync"

// Map is a set of read-write mutexes by key; the zero value is ready to use.
type Map struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	sync.RWMutex
	refs int // holders and waiters; the entry goes at zero
}

// Lock locks key for one holder and returns its unlock.
func (k *Map) Lock(key string) func() {
	l := k.get(key)
	l.Lock()
	return func() { l.Unlock(); k.put(key, l) }
}

// RLock locks key for one of many readers and returns its unlock. A
// waiting Lock goes before readers that come after it.
func (k *Map) RLock(key string) func() {
	l := k.get(key)
	l.RLock()
	return func() { l.RUnlock(); k.put(key, l) }
}

func (k *Map) get(key string) *keyLock {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	return l
}

func (k *Map) put(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(k.locks, key)
	}
}
