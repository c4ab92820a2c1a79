package ringd_test

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/ringd/ringd"

// tiers places every package of the module (ARCHITECTURE.md, "Packages"): a
// package may import only packages of a strictly lower tier, so siblings
// never import each other. A new package must be added here, which is the
// moment to decide where it sits.
var tiers = map[string]int{
	"storage":                0,
	"xmpp/wire":              0,
	"storage/sqlstore":       1,
	"xmpp/scram":             1,
	"storage/sqlite":         2,
	"storage/mysql":          2,
	"xmpp/router":            2,
	"turn":                   2,
	"roster":                 3,
	"presence":               3,
	"jingle":                 3,
	"xmpp/disco":             3,
	"xmpp/ping":              3,
	"xmpp/version":           3,
	"xmpp/offline":           3,
	"xmpp/carbons":           3,
	"xmpp/dedupe":            3,
	"xmpp/extdisco":          3,
	"xmpp/push":              3,
	"xmpp/blocking":          3,
	"xmpp/inflight":          3,
	"xmpp/c2s":               4,
	"xmpp/router/routertest": 9,
	"xmpp/server":            5,
	"cmd/ringd":              6,
	"cmd/ringbench":          6,
	"storage/storagetest":    9, // test support: may import anything below
	"e2e":                    9,
	".":                      9,
}

type listedPackage struct {
	ImportPath string
	Dir        string
	Imports    []string
	Doc        string
	GoFiles    []string
}

func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(importPath string) string {
	if importPath == module {
		return "."
	}
	return strings.TrimPrefix(importPath, module+"/")
}

func TestImportTiers(t *testing.T) {
	for _, p := range listPackages(t) {
		name := rel(p.ImportPath)
		tier, ok := tiers[name]
		if !ok {
			t.Errorf("package %s has no tier in architecture_test.go", name)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := rel(imp)
			depTier, ok := tiers[dep]
			if !ok {
				continue // reported on its own
			}
			if depTier >= tier {
				t.Errorf("%s (tier %d) imports %s (tier %d): only lower tiers may be imported", name, tier, dep, depTier)
			}
		}
	}
}

// TestPackageDocs holds rule 40 of STYLE.md: every package says what it
// owns, in a doc.go.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue
		}
		name := rel(p.ImportPath)
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, "doc.go"), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Errorf("package %s: no readable doc.go: %v", name, err)
			continue
		}
		if f.Doc == nil || len(strings.Fields(f.Doc.Text())) < 12 {
			t.Errorf("package %s: doc.go needs a package comment saying what it owns", name)
		}
	}
}
