package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CreateContainer issued together with the pod's stop and removal, as
// kubelet does when a pod is deleted while it starts: whatever the order,
// no call waits on a process that does not exist, and a removed pod has no
// containers.
func TestCreateRacesPodStopAndRemove(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	busyLoops(t, 2)
	// One whole lifecycle first: the files a daemon makes lazily on its
	// first pod and container exist from here on, whichever way round 0
	// goes.
	warm := podConfig(d, "warm")
	warmPod := d.runPod(warm)
	d.create(warmPod, warm, ctrConfig("c", "sleep", "1000"))
	if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: warmPod}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: warmPod}); err != nil {
		t.Fatal(err)
	}
	before := d.idleFootprint()
	for i := range 32 {
		pc := podConfig(d, fmt.Sprintf("race%d", i))
		pod := d.runPod(pc)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var wg sync.WaitGroup
		var createErr, stopErr, removeErr error
		wg.Go(func() {
			_, createErr = d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrConfig("c", "sleep", "1000"), SandboxConfig: pc})
		})
		wg.Go(func() {
			time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
			_, stopErr = d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
		})
		wg.Go(func() {
			time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
			_, removeErr = d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
		})
		wg.Wait()
		cancel()
		if stopErr != nil || removeErr != nil {
			t.Fatalf("round %d: StopPodSandbox: %v, RemovePodSandbox: %v", i, stopErr, removeErr)
		}
		switch status.Code(createErr) {
		case codes.OK, codes.NotFound, codes.FailedPrecondition:
		default:
			t.Fatalf("round %d: CreateContainer: %v", i, createErr)
		}
		list, err := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: pod}})
		if err != nil || len(list.Containers) != 0 {
			t.Fatalf("round %d: the removed pod still has containers: %v %v", i, list, err)
		}
	}
	if after := d.settledFootprint(before); after != before {
		t.Fatalf("after the races %+v, before %+v", after, before)
	}
}
