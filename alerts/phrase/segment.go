package phrase

import (
	"slices"
	"strings"
	"unicode"
)

// stopWords are the hotline's boilerplate and common function words: they
// split a summary like punctuation does.
var stopWords = []string{
	"市民", "来电", "反映", "反应", "投诉", "举报", "咨询", "求助", "希望", "要求", "请求", "诉求", "建议",
	"相关部门", "有关部门", "部门", "尽快", "处理", "解决", "协调", "核实", "跟进", "问题", "情况", "现象",
	"附近", "周边", "这里", "那里", "该处", "此处", "路段", "一带", "位置", "地址",
	"一直", "已经", "多次", "长期", "经常", "目前", "现在", "今天", "昨天", "最近", "近期", "每天", "晚上", "早上", "白天", "凌晨",
	"没有", "无人", "不能", "无法", "不知", "严重", "影响", "存在", "造成", "导致", "出现", "发生",
	"我们", "他们", "自己", "有人", "大家", "本人", "家里", "请", "帮忙", "一下", "非常", "特别", "比较",
	"的", "了", "在", "是", "和", "与", "及", "等", "很", "都", "也", "就", "还", "被", "把", "吗", "呢", "啊", "吧", "并", "且", "或",
}

// placeSuffixes end a place name: an n-gram ending in one is taken as part
// of a name (海秀路, 金贸街道) and not as an issue.
var placeSuffixes = []string{"街道", "社区", "小区", "大道", "路", "街", "巷", "镇", "村", "区", "县", "号"}

// Extractor cuts summaries into character n-grams, stop words and place
// names removed. It is safe for concurrent use once built.
type Extractor struct {
	cut     map[string]bool // stop words and places
	lens    map[rune][]int  // the lengths in runes of the cut words starting with a rune, longest first
	minN    int
	maxN    int
	suffixs []string
}

// NewExtractor returns an extractor that also removes places (district,
// street, grid and road names; a district's name without its 区/县 suffix
// too).
func NewExtractor(places []string) *Extractor {
	x := &Extractor{cut: map[string]bool{}, lens: map[rune][]int{}, minN: 2, maxN: 4, suffixs: placeSuffixes}
	add := func(w string) {
		w = normalize(w)
		rs := []rune(w)
		if len(rs) == 0 || x.cut[w] {
			return
		}
		x.cut[w] = true
		ls := x.lens[rs[0]]
		if !slices.Contains(ls, len(rs)) {
			ls = append(ls, len(rs))
			slices.SortFunc(ls, func(a, b int) int { return b - a })
			x.lens[rs[0]] = ls
		}
	}
	for _, w := range stopWords {
		add(w)
	}
	for _, name := range places {
		for _, p := range placeForms(name) {
			add(p)
		}
	}
	return x
}

// placeForms are the forms of a place's name a summary may use: the name,
// its parts apart from a bracketed note and separators ("滨海大道(世纪大桥—
// 龙昆北路)": 滨海大道, 世纪大桥, 龙昆北路), and each part's beginnings that
// end in a place suffix (金盘路工业区积水点: 金盘路, 金盘路工业区; 滨海大道
// 秀英段: 滨海大道), at least three characters long; and each of those of
// three characters or more without its 区/县/市/镇/街道 (龙华区: 龙华).
// Citizens name the road or the estate, rarely the station's full name.
func placeForms(name string) []string {
	out := []string{name}
	parts := strings.FieldsFunc(name, func(r rune) bool {
		return strings.ContainsRune("()（）—–-、·/，, ", r)
	})
	for _, p := range parts {
		rs := []rune(p)
		if len(rs) >= 2 && p != name {
			out = append(out, p)
		}
		for i := 3; i < len(rs); i++ {
			pre := string(rs[:i])
			for _, s := range placeSuffixes {
				if strings.HasSuffix(pre, s) {
					out = append(out, pre)
					break
				}
			}
		}
	}
	for _, p := range out {
		if len([]rune(p)) < 3 {
			continue
		}
		for _, s := range []string{"区", "县", "市", "镇", "街道"} {
			if short, ok := strings.CutSuffix(p, s); ok && len([]rune(short)) >= 2 {
				out = append(out, short)
			}
		}
	}
	return out
}

// normalize folds full-width letters and digits to ASCII and lowers case.
func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFEE0
		}
		return unicode.ToLower(r)
	}, s)
}

// runs splits s into runs of word characters (Han, letters, digits) with
// stop words and places cut out.
func (x *Extractor) runs(s string) [][]rune {
	var out [][]rune
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	rs := []rune(normalize(s))
	for i := 0; i < len(rs); {
		r := rs[i]
		if !(unicode.Is(unicode.Han, r) || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			flush()
			i++
			continue
		}
		// The longest stop word or place starting here.
		cut := 0
		for _, n := range x.lens[r] {
			if n <= len(rs)-i && x.cut[string(rs[i:i+n])] {
				cut = n
				break
			}
		}
		if cut > 0 {
			flush()
			i += cut
			continue
		}
		cur = append(cur, r)
		i++
	}
	flush()
	return out
}

// Grams returns the distinct n-grams of a summary, 2..4 characters,
// without those ending in a place suffix or made of digits and letters
// only.
func (x *Extractor) Grams(summary string) []string {
	seen := map[string]bool{}
	var out []string
	for _, run := range x.runs(summary) {
		for i := range run {
			for n := x.minN; n <= x.maxN && i+n <= len(run); n++ {
				g := string(run[i : i+n])
				if seen[g] || !hasHan(run[i:i+n]) || x.placeLike(g) {
					continue
				}
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	return out
}

func (x *Extractor) placeLike(g string) bool {
	for _, s := range x.suffixs {
		if strings.HasSuffix(g, s) {
			return true
		}
	}
	return false
}

func hasHan(rs []rune) bool {
	for _, r := range rs {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
