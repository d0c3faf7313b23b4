package train

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ui/commandline"
	"github.com/moeboost/moeboost/optimizers"
)

// ParamDoc describes a store parameter that components read (with model.GetParamOr) and users
// may set with -set "name=value;...".
type ParamDoc struct {
	Name    string
	Default any
	Doc     string
}

var declared = struct {
	sync.Mutex
	m map[string]ParamDoc
}{m: map[string]ParamDoc{}}

// DeclareParam makes a store parameter known to ApplySettings with its default (which fixes
// its type) and a one-line doc. Components call it from init for every param they read.
// Declaring the same name twice with a different type panics.
func DeclareParam(name string, def any, doc string) {
	declared.Lock()
	defer declared.Unlock()
	if old, ok := declared.m[name]; ok && fmt.Sprintf("%T", old.Default) != fmt.Sprintf("%T", def) {
		panic(fmt.Sprintf("train: param %q declared twice with types %T and %T", name, old.Default, def))
	}
	declared.m[name] = ParamDoc{Name: name, Default: def, Doc: doc}
}

// DeclaredParams returns every declared param, sorted by name.
func DeclaredParams() []ParamDoc {
	declared.Lock()
	defer declared.Unlock()
	out := make([]ParamDoc, 0, len(declared.m))
	for _, p := range declared.m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ApplySettings parses GoMLX-style settings "k=v;k2=v2" (also "file:PATH") into the store. A key
// must be a param already in the store or a declared one (DeclareParam); its value is parsed
// with the param's type. An unknown key is an error listing the known ones.
func ApplySettings(store *model.Store, settings string) error {
	for _, part := range strings.Split(settings, ";") {
		part = strings.TrimSpace(part)
		if part == "" || strings.HasPrefix(part, "file:") {
			continue
		}
		key, _, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("setting %q: want name=value", part)
		}
		base := model.BasePath(strings.TrimSpace(key))
		if _, found := store.GetParam(base); found {
			continue
		}
		declared.Lock()
		p, known := declared.m[base]
		declared.Unlock()
		if !known {
			var names []string
			for _, d := range DeclaredParams() {
				names = append(names, d.Name)
			}
			for k := range store.IterParams() {
				names = append(names, model.BasePath(k))
			}
			sort.Strings(names)
			return fmt.Errorf("unknown setting %q: known params are %s", base, strings.Join(dedup(names), ", "))
		}
		store.SetParam(base, p.Default)
	}
	if _, err := commandline.ParseSettings(store, settings); err != nil {
		return err
	}
	return nil
}

func dedup(xs []string) []string {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func init() {
	DeclareParam("optimizer", "adamw", "optimizer name (see -list)")
	DeclareParam("learning_rate", 0.0, "base learning rate (0: the optimizer's default)")
	// The optimizers' hyperparameters (package optimizers cannot import train).
	for _, p := range optimizers.Params() {
		DeclareParam(p.Name, p.Default, p.Doc)
	}
}
