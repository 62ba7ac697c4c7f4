package city

// Camera is one of the demo city's cameras: where it is and what it watches.
// The demo serves each from its own clip (demo/clips, made by
// scripts/democlips); the wall's camera sets and the alerts' camera
// linkage pick them by tag and position.
type Camera struct {
	ID       string
	Name     string // zh-CN
	NameEn   string
	District string  // the district it stands in, as District.Name
	Lat      float64 // WGS84
	Lng      float64
	Tags     []string
}

// Camera tags of the demo city. A real centre tags its cameras the same way
// in its config.
const (
	TagSchoolGate = "school-gate"
	TagKitchen    = "kitchen"
	TagReservoir  = "reservoir"
	TagRoad       = "road"
	TagWaterlog   = "waterlogging"
	TagSquare     = "square"
)

// Cameras returns the demo city's cameras: school gates, restaurant
// kitchens ("bright kitchen" cameras), reservoirs, rivers and lakes,
// main-road junctions, waterlogging-prone underpasses and streets, and busy
// squares, spread over the four districts and near the hotspots where
// requests cluster. Every tag the demo makes a camera set of has at least
// eight cameras, so a set fills the eight video slots of the command wall.
func Cameras() []Camera {
	const (
		xiuying   = "秀英区"
		longhua   = "龙华区"
		qiongshan = "琼山区"
		meilan    = "美兰区"
	)
	return []Camera{
		{"school-longhua-1", "海口市第一中学校门", "Haikou No.1 Middle School gate", meilan, 20.0262, 110.3402, []string{TagSchoolGate}},
		{"school-longhua-2", "龙华小学校门", "Longhua Primary School gate", longhua, 20.0301, 110.3195, []string{TagSchoolGate}},
		{"school-meilan-1", "海南中学校门", "Hainan Middle School gate", meilan, 20.0368, 110.3512, []string{TagSchoolGate}},
		{"school-qiongshan-1", "琼山中学校门", "Qiongshan Middle School gate", qiongshan, 19.9990, 110.3530, []string{TagSchoolGate}},
		{"kitchen-guomao-1", "国贸美食城后厨", "Guomao food court kitchen", longhua, 20.0290, 110.3240, []string{TagKitchen}},
		{"kitchen-haidian-1", "海甸岛餐厅后厨", "Haidian Island restaurant kitchen", meilan, 20.0590, 110.3380, []string{TagKitchen}},
		{"kitchen-xiuying-1", "秀英学校食堂", "Xiuying school canteen", xiuying, 20.0170, 110.2700, []string{TagKitchen, TagSchoolGate}},
		{"kitchen-meilan-1", "海府路餐饮街后厨", "Haifu Road eatery kitchen", meilan, 20.0210, 110.3500, []string{TagKitchen}},
		{"reservoir-yongzhuang", "永庄水库大坝", "Yongzhuang Reservoir dam", longhua, 19.9850, 110.3020, []string{TagReservoir}},
		{"reservoir-shahe", "沙河水库", "Shahe Reservoir", qiongshan, 19.9400, 110.3900, []string{TagReservoir}},
		{"road-binhai", "滨海大道国贸路口", "Binhai Ave at Guomao Rd", longhua, 20.0330, 110.3230, []string{TagRoad}},
		{"road-longkun", "龙昆南路南大立交", "Longkun South Rd interchange", longhua, 20.0050, 110.3330, []string{TagRoad, TagWaterlog}},
		{"road-haixiu", "海秀快速路", "Haixiu Expressway", longhua, 20.0120, 110.2950, []string{TagRoad}},
		{"underpass-nanhai", "南海大道下穿隧道", "Nanhai Ave underpass", longhua, 20.0180, 110.3080, []string{TagWaterlog, TagRoad}},
		{"underpass-haifu", "海府路下穿通道", "Haifu Rd underpass", meilan, 20.0240, 110.3460, []string{TagWaterlog}},
		{"square-qilou", "骑楼老街", "Qilou Old Street", meilan, 20.0480, 110.3490, []string{TagSquare}},

		{"school-xiuying-1", "秀英小学校门", "Xiuying Primary School gate", xiuying, 20.0150, 110.2850, []string{TagSchoolGate}},
		{"school-meilan-2", "海甸小学校门", "Haidian Primary School gate", meilan, 20.0570, 110.3300, []string{TagSchoolGate}},
		{"school-qiongshan-2", "府城中学校门", "Fucheng Middle School gate", qiongshan, 19.9950, 110.3450, []string{TagSchoolGate}},
		{"school-longhua-3", "金盘实验学校校门", "Jinpan Experimental School gate", longhua, 20.0080, 110.3050, []string{TagSchoolGate}},
		{"kitchen-qilou-1", "骑楼小吃街后厨", "Qilou snack street kitchen", longhua, 20.0445, 110.3380, []string{TagKitchen}},
		{"kitchen-fucheng-1", "府城美食街后厨", "Fucheng food street kitchen", qiongshan, 20.0000, 110.3500, []string{TagKitchen}},
		{"kitchen-jiangdong-1", "江东新区员工食堂", "Jiangdong New Area staff canteen", meilan, 20.0300, 110.4300, []string{TagKitchen}},
		{"kitchen-haixiu-1", "海秀路酒楼后厨", "Haixiu Road restaurant kitchen", longhua, 20.0220, 110.3200, []string{TagKitchen}},
		{"reservoir-lingbei", "岭北水库", "Lingbei Reservoir", longhua, 19.9600, 110.2800, []string{TagReservoir}},
		{"river-nandu-longtang", "南渡江龙塘大坝", "Nandu River at Longtang dam", qiongshan, 19.9300, 110.4000, []string{TagReservoir}},
		{"lake-hongcheng", "红城湖", "Hongcheng Lake", qiongshan, 20.0100, 110.3480, []string{TagReservoir}},
		{"lake-dongxi", "东西湖", "Dongxi Lake", longhua, 20.0370, 110.3420, []string{TagReservoir}},
		{"river-meishe", "美舍河凤翔湿地", "Meishe River at Fengxiang wetland", qiongshan, 19.9800, 110.3600, []string{TagReservoir}},
		{"river-wuyuan", "五源河", "Wuyuan River", xiuying, 20.0150, 110.2350, []string{TagReservoir}},
		{"road-guoxing", "国兴大道大英山路口", "Guoxing Ave at Dayingshan", meilan, 20.0215, 110.3600, []string{TagRoad}},
		{"road-century-bridge", "世纪大桥南桥头", "Century Bridge south end", longhua, 20.0460, 110.3300, []string{TagRoad}},
		{"road-yehai", "椰海大道", "Yehai Ave", qiongshan, 19.9830, 110.3500, []string{TagRoad}},
		{"road-nanhai", "南海大道秀英段", "Nanhai Ave, Xiuying section", xiuying, 20.0230, 110.2800, []string{TagRoad}},
		{"road-airport", "美兰机场路", "Meilan Airport Rd", meilan, 19.9500, 110.4400, []string{TagRoad}},
		{"wl-binhai-xiuying", "滨海大道秀英段积水点", "Binhai Ave, Xiuying section, waterlogging point", xiuying, 20.0250, 110.2700, []string{TagWaterlog}},
		{"wl-dayingshan", "国兴大道大英山积水点", "Guoxing Ave at Dayingshan, waterlogging point", meilan, 20.0225, 110.3620, []string{TagWaterlog}},
		{"wl-jinpan", "金盘路工业区积水点", "Jinpan Rd industrial park, waterlogging point", longhua, 20.0150, 110.3000, []string{TagWaterlog}},
		{"wl-haidian", "海甸五西路积水点", "Haidian 5th West Rd, waterlogging point", meilan, 20.0550, 110.3350, []string{TagWaterlog}},
		{"wl-fucheng", "府城忠介路积水点", "Zhongjie Rd, Fucheng, waterlogging point", qiongshan, 19.9980, 110.3520, []string{TagWaterlog}},
	}
}
