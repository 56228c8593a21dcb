package scalesim

import (
	"slices"
	"time"
)

// node is one instance of a node group.
type node struct {
	id       int
	readyAt  time.Time // joined the cluster and schedulable
	cpu, mem float64   // requested by the pods on it
	pods     int
	// imageAt is when the image is on the node: the first pods pay the pull.
	imageAt       time.Time
	pulled        bool
	unneededSince time.Time // zero while needed
}

func (n *node) ready(now time.Time) bool { return !n.readyAt.After(now) }

// group is a simulated node group's state.
type group struct {
	NodeGroup
	nodes     []*node
	lastAdd   time.Time
	nextID    int
	nodeHours float64
	peak      int
}

func (g *group) fits(n *node, cpu, mem float64) bool {
	// A small epsilon keeps sums of 0.25-core requests from failing on
	// floating-point noise.
	const eps = 1e-9
	return n.cpu+cpu <= g.AllocCPU+eps && n.mem+mem <= g.AllocMem+eps
}

func (g *group) add(now time.Time, provision time.Duration) *node {
	g.nextID++
	n := &node{id: g.nextID, readyAt: now.Add(provision)}
	g.nodes = append(g.nodes, n)
	g.peak = max(g.peak, len(g.nodes))
	return n
}

// place puts a pod on the first ready node with room, returning nil when none
// has any: the pod stays pending for the cluster autoscaler.
func (g *group) place(now time.Time, cpu, mem float64) *node {
	for _, n := range g.nodes {
		if n.ready(now) && g.fits(n, cpu, mem) {
			n.cpu += cpu
			n.mem += mem
			n.pods++
			return n
		}
	}
	return nil
}

func (g *group) release(n *node, cpu, mem float64) {
	n.cpu -= cpu
	n.mem -= mem
	n.pods--
}

// request is one pending pod's resource requests.
type request struct{ cpu, mem float64 }

// nodesFor is how many new empty nodes the pending pods need after filling
// the free room of nodes still provisioning, packed first-fit decreasing as
// the cluster autoscaler's binpacking estimator does.
func (g *group) nodesFor(now time.Time, pending []request) int {
	slices.SortFunc(pending, func(a, b request) int {
		switch {
		case a.cpu > b.cpu:
			return -1
		case a.cpu < b.cpu:
			return 1
		}
		return 0
	})
	type bin struct{ cpu, mem float64 }
	var bins []bin
	for _, n := range g.nodes {
		if !n.ready(now) {
			bins = append(bins, bin{n.cpu, n.mem})
		}
	}
	provisioning := len(bins)
	for _, p := range pending {
		placed := false
		for i := range bins {
			if bins[i].cpu+p.cpu <= g.AllocCPU+1e-9 && bins[i].mem+p.mem <= g.AllocMem+1e-9 {
				bins[i].cpu += p.cpu
				bins[i].mem += p.mem
				placed = true
				break
			}
		}
		if !placed {
			if p.cpu > g.AllocCPU || p.mem > g.AllocMem {
				continue // fits no node of this group; adding one would not help
			}
			bins = append(bins, bin{p.cpu, p.mem})
		}
	}
	return len(bins) - provisioning
}

// schedule places pending pods on ready nodes with room. A pod on a node
// that has not pulled the image yet waits for the pull too.
func (s *sim) schedule(now time.Time) {
	for _, sv := range s.services {
		for _, p := range sv.pods {
			if p.node != nil {
				continue
			}
			n := sv.grp.place(now, sv.model.CPURequest, sv.model.MemRequest)
			if n == nil {
				continue
			}
			p.node = n
			if !n.pulled {
				n.pulled = true
				n.imageAt = now.Add(s.cl.ImagePullOnNewNode)
			}
			start := now
			if n.imageAt.After(start) {
				start = n.imageAt
			}
			p.readyAt = start.Add(sv.model.StartUp)
		}
	}
}

// autoscaleNodes is one scan of the cluster autoscaler: add nodes for
// pending pods; remove nodes that have been unneeded long enough.
func (s *sim) autoscaleNodes(now time.Time) {
	total := 0
	for _, g := range s.groups {
		total += len(g.nodes)
	}
	for _, ng := range s.cfg.Platform.NodeGroups {
		if !ng.Simulated {
			total += ng.Min
		}
	}
	for _, g := range s.groups {
		var pending []request
		for _, sv := range s.services {
			if sv.grp != g {
				continue
			}
			for _, p := range sv.pods {
				if p.node == nil {
					pending = append(pending, request{sv.model.CPURequest, sv.model.MemRequest})
				}
			}
		}
		if len(pending) > 0 {
			k := min(g.nodesFor(now, pending), g.Max-len(g.nodes), s.cl.MaxNodesTotal-total)
			for range k {
				g.add(now, s.cl.NodeProvision)
				g.lastAdd = now
				total++
			}
			for _, n := range g.nodes {
				n.unneededSince = time.Time{}
			}
			continue
		}
		s.scaleDownNodes(g, now)
	}
}

// podsOn lists the requests of the pods on n.
func (s *sim) podsOn(n *node) []request {
	var out []request
	for _, sv := range s.services {
		for _, p := range sv.pods {
			if p.node == n {
				out = append(out, request{sv.model.CPURequest, sv.model.MemRequest})
			}
		}
	}
	return out
}

// scaleDownNodes marks nodes whose requests are below the utilisation
// threshold and whose pods fit on the other nodes, and removes those that
// stayed unneeded for scale-down-unneeded-time, no sooner than
// scale-down-delay-after-add after the last scale-up: empty nodes together,
// at most one node with pods a scan, as the cluster autoscaler does.
func (s *sim) scaleDownNodes(g *group, now time.Time) {
	type room struct{ cpu, mem float64 }
	free := make(map[*node]*room)
	for _, n := range g.nodes {
		if n.ready(now) {
			free[n] = &room{g.AllocCPU - n.cpu, g.AllocMem - n.mem}
		}
	}
	candidates := make(map[*node]bool)
	ordered := slices.Clone(g.nodes)
	slices.SortStableFunc(ordered, func(a, b *node) int { return cmpFloat(g.util(a), g.util(b)) })
	for _, n := range ordered {
		if !n.ready(now) || g.util(n) >= s.cl.ScaleDownUtilThreshold || len(g.nodes)-len(candidates) <= g.Min {
			n.unneededSince = time.Time{}
			continue
		}
		// Try to fit its pods on the nodes that stay.
		placed := make(map[*node]room)
		ok := true
		for _, r := range s.podsOn(n) {
			found := false
			for _, m := range g.nodes {
				fr, isReady := free[m]
				if m == n || candidates[m] || !isReady {
					continue
				}
				used := placed[m]
				if fr.cpu-used.cpu >= r.cpu-1e-9 && fr.mem-used.mem >= r.mem-1e-9 {
					placed[m] = room{used.cpu + r.cpu, used.mem + r.mem}
					found = true
					break
				}
			}
			if !found {
				ok = false
				break
			}
		}
		if !ok {
			n.unneededSince = time.Time{}
			continue
		}
		for m, used := range placed {
			free[m].cpu -= used.cpu
			free[m].mem -= used.mem
		}
		candidates[n] = true
		if n.unneededSince.IsZero() {
			n.unneededSince = now
		}
	}
	if now.Sub(g.lastAdd) < s.cl.ScaleDownDelayAfterAdd && !g.lastAdd.IsZero() {
		return
	}
	removedBusy := false
	for _, n := range ordered {
		if !candidates[n] || now.Sub(n.unneededSince) < s.cl.ScaleDownUnneededTime || len(g.nodes) <= g.Min {
			continue
		}
		if n.pods > 0 {
			if removedBusy {
				continue
			}
			removedBusy = true
		}
		s.drain(g, n)
	}
}

// drain removes a node; its pods are recreated and scheduled elsewhere, so
// each is unavailable for its start-up time.
func (s *sim) drain(g *group, n *node) {
	for _, sv := range s.services {
		for _, p := range sv.pods {
			if p.node == n {
				p.node = nil
				p.readyAt = time.Time{}
			}
		}
	}
	g.nodes = slices.DeleteFunc(g.nodes, func(m *node) bool { return m == n })
}

func (g *group) util(n *node) float64 { return max(n.cpu/g.AllocCPU, n.mem/g.AllocMem) }

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
