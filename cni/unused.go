package cni

import (
	"encoding/json"

	"github.com/containernetworking/cni/libcni"
)

// idleUnlessAsked names the plugins that do nothing for a pod that does not
// use their capability, with the config keys that would make them act on
// their own. Their ADD passes the previous result through untouched, but
// their DEL still runs iptables or tc to look for what a pod with ports or
// limits would have left: a third of a pod's network teardown, for nothing.
var idleUnlessAsked = map[string]struct {
	capability string
	actsOn     []string
}{
	"portmap":   {"portMappings", []string{"runtimeConfig"}},
	"bandwidth": {"bandwidth", []string{"runtimeConfig", "ingressRate", "egressRate"}},
}

// forPod is list without the plugins that would be idle for a pod with
// these capability arguments. libcni caches the list an ADD ran with, and
// DEL and CHECK replay the cached one, so a pod is torn down by the same
// plugins that set it up. The list is returned as is when nothing goes.
func forPod(list *libcni.NetworkConfigList, caps map[string]any) *libcni.NetworkConfigList {
	var raw map[string]any
	if err := json.Unmarshal(list.Bytes, &raw); err != nil {
		return list
	}
	plugins, _ := raw["plugins"].([]any)
	kept := make([]any, 0, len(plugins))
	for _, p := range plugins {
		conf, _ := p.(map[string]any)
		if !idle(conf, caps) {
			kept = append(kept, p)
		}
	}
	if len(kept) == len(plugins) || len(kept) == 0 {
		return list
	}
	raw["plugins"] = kept
	b, err := json.Marshal(raw)
	if err != nil {
		return list
	}
	pruned, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return list
	}
	return pruned
}

func idle(conf map[string]any, caps map[string]any) bool {
	typ, _ := conf["type"].(string)
	rule, ok := idleUnlessAsked[typ]
	if !ok {
		return false
	}
	declared, _ := conf["capabilities"].(map[string]any)
	if on, _ := declared[rule.capability].(bool); !on {
		return false // configured for something else: leave it be
	}
	if _, asked := caps[rule.capability]; asked {
		return false
	}
	for _, k := range rule.actsOn {
		if v, set := conf[k]; set && v != nil && v != float64(0) {
			return false
		}
	}
	return true
}
