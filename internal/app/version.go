package app

import "runtime/debug"

// Version is set at build time (-ldflags "-X .../internal/app.Version=v1.2.3");
// otherwise it comes from the module's build information.
var Version = ""

func init() {
	if Version != "" {
		return
	}
	Version = "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				Version += "+" + s.Value[:12]
			}
		}
	}
}
