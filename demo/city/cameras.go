package city

// Camera is one of the demo city's cameras: where it is and what it watches.
// The video relay serves each from the embedded clip; the wall's camera
// sets and the alerts' camera linkage pick them by tag and position.
type Camera struct {
	ID     string
	Name   string // zh-CN
	NameEn string
	Lat    float64 // WGS84
	Lng    float64
	Tags   []string
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
// kitchens ("bright kitchen" cameras), reservoirs, main-road junctions,
// waterlogging-prone underpasses and busy squares, spread over the four
// districts and near the hotspots where requests cluster.
func Cameras() []Camera {
	return []Camera{
		{"school-longhua-1", "海口市第一中学校门", "Haikou No.1 Middle School gate", 20.0262, 110.3402, []string{TagSchoolGate}},
		{"school-longhua-2", "龙华小学校门", "Longhua Primary School gate", 20.0301, 110.3195, []string{TagSchoolGate}},
		{"school-meilan-1", "海南中学校门", "Hainan Middle School gate", 20.0368, 110.3512, []string{TagSchoolGate}},
		{"school-qiongshan-1", "琼山中学校门", "Qiongshan Middle School gate", 19.9990, 110.3530, []string{TagSchoolGate}},
		{"kitchen-guomao-1", "国贸美食城后厨", "Guomao food court kitchen", 20.0290, 110.3240, []string{TagKitchen}},
		{"kitchen-haidian-1", "海甸岛餐厅后厨", "Haidian Island restaurant kitchen", 20.0590, 110.3380, []string{TagKitchen}},
		{"kitchen-xiuying-1", "秀英学校食堂", "Xiuying school canteen", 20.0170, 110.2700, []string{TagKitchen, TagSchoolGate}},
		{"kitchen-meilan-1", "海府路餐饮街后厨", "Haifu Road eatery kitchen", 20.0210, 110.3500, []string{TagKitchen}},
		{"reservoir-yongzhuang", "永庄水库大坝", "Yongzhuang Reservoir dam", 19.9850, 110.3020, []string{TagReservoir}},
		{"reservoir-shahe", "沙河水库", "Shahe Reservoir", 19.9400, 110.3900, []string{TagReservoir}},
		{"road-binhai", "滨海大道国贸路口", "Binhai Ave at Guomao Rd", 20.0330, 110.3230, []string{TagRoad}},
		{"road-longkun", "龙昆南路南大立交", "Longkun South Rd interchange", 20.0050, 110.3330, []string{TagRoad}},
		{"road-haixiu", "海秀快速路", "Haixiu Expressway", 20.0120, 110.2950, []string{TagRoad}},
		{"underpass-nanhai", "南海大道下穿隧道", "Nanhai Ave underpass", 20.0180, 110.3080, []string{TagWaterlog, TagRoad}},
		{"underpass-haifu", "海府路下穿通道", "Haifu Rd underpass", 20.0240, 110.3460, []string{TagWaterlog}},
		{"square-qilou", "骑楼老街", "Qilou Old Street", 20.0480, 110.3490, []string{TagSquare}},
	}
}
