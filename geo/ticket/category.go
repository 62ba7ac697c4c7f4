package ticket

import "sync"

// Category is a level-1 request category of the hotline taxonomy;
// Ticket.Category carries its Name.
type Category struct {
	Name   string  // zh-CN, e.g. "城市管理"
	NameEn string  // e.g. "City management"
	Weight float64 // share of all requests, in percent
	Subs   []Sub
}

// Sub is a level-2 category; Ticket.Subcategory carries its Name.
type Sub struct {
	Name       string   // zh-CN, e.g. "道路脏乱"
	NameEn     string   // e.g. "Road dirt and litter"
	Weight     float64  // relative to the other subs of its category
	Summaries  []string // typical wording of a request, zh-CN
	Department string   // who it is dispatched to; empty means the district government
	Urgent     float64  // share flagged urgent
}

// Departments a ticket is dispatched to, besides the district governments
// (the names the taxonomy's subcategories are dispatched to).
const (
	DeptCityAdmin   = "市政市容委"
	DeptTransport   = "交通运输局"
	DeptWater       = "水务局"
	DeptEnvironment = "生态环境局"
	DeptLabour      = "人社局"
	DeptMarket      = "市场监管局"
	DeptEducation   = "教育局"
	DeptHousing     = "住建局"
	DeptTraffic     = "公安交警支队"
)

// Names of the taxonomy that code refers to (the demo city treats them
// specially).
const (
	SubNoise       = "噪音扰民"
	SubParking     = "违停挪车"
	SubBurstPipe   = "爆管"
	SubWaterlog    = "积水内涝"
	SubWageArrears = "拖欠工资"
	CatCityAdmin   = "城市管理"
)

// Categories returns the two-level request taxonomy with realistic weights:
// car moving and city management dominate, as in the centres' reports. The
// result is a fresh copy the caller may keep or change.
func Categories() []Category {
	return []Category{
		{Name: CatCityAdmin, NameEn: "City management", Weight: 22, Subs: []Sub{
			{Name: "道路脏乱", NameEn: "Road dirt and litter", Weight: 8, Department: DeptCityAdmin, Urgent: 0.01, Summaries: []string{
				"路边垃圾堆积多日无人清理，气味难闻",
				"人行道上建筑垃圾乱倒，影响通行",
				"垃圾桶满溢，周边污水横流",
			}},
			{Name: "违章搭建", NameEn: "Illegal construction", Weight: 5, Urgent: 0.01, Summaries: []string{
				"小区楼顶有人违规加盖房屋",
				"商铺在人行道上私自搭建铁皮棚",
				"一楼住户圈占公共绿地搭建围墙",
			}},
			{Name: "占道经营", NameEn: "Street vending", Weight: 5, Department: DeptCityAdmin, Urgent: 0.005, Summaries: []string{
				"路口流动摊贩占道经营，堵塞交通",
				"夜市摊点占用人行道，行人只能走机动车道",
				"水果摊长期占道摆卖",
			}},
			{Name: "井盖路灯", NameEn: "Manhole covers and street lights", Weight: 4, Department: DeptCityAdmin, Urgent: 0.08, Summaries: []string{
				"路面井盖缺失，存在安全隐患",
				"整条路的路灯晚上不亮",
				"井盖松动，车辆经过响声很大",
			}},
		}},
		{Name: "交通出行", NameEn: "Traffic", Weight: 24, Subs: []Sub{
			{Name: SubParking, NameEn: "Illegal parking / move my car", Weight: 14, Department: DeptTraffic, Urgent: 0.02, Summaries: []string{
				"车辆被他人车辆堵住无法驶出，请求联系挪车",
				"小区出入口被违停车辆堵住",
				"消防通道长期停放车辆",
			}},
			{Name: "共享单车", NameEn: "Shared bikes", Weight: 5, Department: DeptTransport, Urgent: 0.005, Summaries: []string{
				"共享单车乱停乱放堵住盲道",
				"地铁口共享单车堆积，无法通行",
				"共享单车押金无法退还",
			}},
			{Name: "交通违法", NameEn: "Traffic violations", Weight: 5, Department: DeptTraffic, Urgent: 0.02, Summaries: []string{
				"电动车逆行、闯红灯现象严重",
				"渣土车超速行驶，存在安全隐患",
				"路口红绿灯故障，交通混乱",
			}},
		}},
		{Name: "供水排水", NameEn: "Water and drainage", Weight: 10, Subs: []Sub{
			{Name: SubBurstPipe, NameEn: "Burst water pipe", Weight: 3, Department: DeptWater, Urgent: 0.35, Summaries: []string{
				"路边供水管爆裂，大量自来水外冒",
				"小区内水管爆裂，楼栋停水",
			}},
			{Name: "排水管破损", NameEn: "Broken drainage pipe", Weight: 3, Department: DeptWater, Urgent: 0.08, Summaries: []string{
				"排水管破损，污水流到路面",
				"下水道堵塞反水，臭味扰民",
			}},
			{Name: SubWaterlog, NameEn: "Waterlogging after rain", Weight: 2, Department: DeptWater, Urgent: 0.3, Summaries: []string{
				"雨后路段积水严重，车辆无法通行",
				"下雨后小区地下车库进水",
			}},
			{Name: "停水水压", NameEn: "Water outage and pressure", Weight: 2, Department: DeptWater, Urgent: 0.05, Summaries: []string{
				"小区停水超过一天未恢复，无任何通知",
				"高层住户水压不足，用水困难",
			}},
		}},
		{Name: "环境保护", NameEn: "Environment", Weight: 9, Subs: []Sub{
			{Name: SubNoise, NameEn: "Noise", Weight: 7, Department: DeptEnvironment, Urgent: 0.01, Summaries: []string{
				"工地夜间施工噪音扰民",
				"广场舞音响声音过大",
				"酒吧夜间音乐声太吵，影响休息",
			}},
			{Name: "油烟污染", NameEn: "Cooking fumes", Weight: 2, Department: DeptEnvironment, Urgent: 0.005, Summaries: []string{
				"楼下餐馆油烟直排，影响居民生活",
				"烧烤摊油烟污染严重",
			}},
		}},
		{Name: "劳动保障", NameEn: "Labour", Weight: 5, Subs: []Sub{
			{Name: SubWageArrears, NameEn: "Wage arrears", Weight: 4, Department: DeptLabour, Urgent: 0.1, Summaries: []string{
				"公司拖欠工资两个月未发",
				"工地包工头拖欠农民工工资",
				"离职后公司拒不结算工资",
			}},
			{Name: "社保咨询", NameEn: "Social insurance", Weight: 1, Department: DeptLabour, Urgent: 0, Summaries: []string{
				"咨询灵活就业人员社保缴费办法",
				"单位未依法缴纳社保",
			}},
		}},
		{Name: "市场监管", NameEn: "Market regulation", Weight: 9, Subs: []Sub{
			{Name: "食品安全", NameEn: "Food safety", Weight: 3, Department: DeptMarket, Urgent: 0.05, Summaries: []string{
				"餐馆后厨卫生条件差",
				"在餐馆就餐后出现腹泻症状",
				"无证小作坊加工食品",
			}},
			{Name: "过期食品", NameEn: "Expired food", Weight: 2, Department: DeptMarket, Urgent: 0.01, Summaries: []string{
				"超市货架上在售过期食品",
				"便利店出售过期牛奶",
			}},
			{Name: "价格纠纷", NameEn: "Price disputes", Weight: 4, Department: DeptMarket, Urgent: 0.01, Summaries: []string{
				"海鲜店结账时价格与标价不符",
				"商店商品未明码标价",
				"景区商店高价销售商品",
			}},
		}},
		{Name: "教育", NameEn: "Education", Weight: 4, Subs: []Sub{
			{Name: "学区咨询", NameEn: "School district", Weight: 3, Department: DeptEducation, Urgent: 0, Summaries: []string{
				"咨询小区对应的学区划分",
				"咨询随迁子女入学所需材料",
			}},
			{Name: "校外培训", NameEn: "Private tutoring", Weight: 1, Department: DeptEducation, Urgent: 0, Summaries: []string{
				"培训机构退费困难",
				"培训机构无资质办学",
			}},
		}},
		{Name: "营商环境", NameEn: "Business environment", Weight: 4, Subs: []Sub{
			{Name: "营业执照", NameEn: "Business licence", Weight: 2.5, Department: DeptMarket, Urgent: 0, Summaries: []string{
				"咨询个体户营业执照办理流程",
				"营业执照变更办理时间过长",
			}},
			{Name: "招商政策", NameEn: "Investment policy", Weight: 1.5, Urgent: 0, Summaries: []string{
				"咨询自贸港企业所得税优惠政策",
				"咨询人才引进落户政策",
			}},
		}},
		{Name: "住房物业", NameEn: "Housing and property", Weight: 7, Subs: []Sub{
			{Name: "装修款纠纷", NameEn: "Unpaid renovation fees", Weight: 2, Department: DeptHousing, Urgent: 0.01, Summaries: []string{
				"装修公司收款后停工，拒不退还装修款",
				"业主拖欠装修款不结算",
			}},
			{Name: "物业服务", NameEn: "Property management", Weight: 5, Department: DeptHousing, Urgent: 0.02, Summaries: []string{
				"小区电梯经常故障，物业不维修",
				"物业乱收停车费",
				"小区楼道堆放杂物，物业不清理",
			}},
		}},
		{Name: "文明行为", NameEn: "Civility", Weight: 4, Subs: []Sub{
			{Name: "不文明行为", NameEn: "Uncivil behaviour", Weight: 4, Urgent: 0.005, Summaries: []string{
				"高空抛物，楼下行人有安全隐患",
				"遛狗不拴绳，犬只吓到小孩",
				"公共场所随地吐痰、乱扔垃圾",
			}},
		}},
		{Name: "应急求助", NameEn: "Emergency help", Weight: 2, Subs: []Sub{
			{Name: "台风滞留", NameEn: "Stranded in a typhoon", Weight: 1, Urgent: 0.8, Summaries: []string{
				"台风期间游客滞留，求助住宿安置",
				"受台风影响航班取消，旅客滞留机场",
			}},
			{Name: "倒树断电", NameEn: "Fallen trees and power cuts", Weight: 1, Department: DeptCityAdmin, Urgent: 0.4, Summaries: []string{
				"大风吹倒路边树木，压住车辆",
				"倒伏树木挡住道路，车辆无法通行",
			}},
		}},
	}
}

// namesEn maps every level-1 and level-2 zh name to English. It is derived
// from Categories once, so the two never disagree.
var namesEn = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	for _, c := range Categories() {
		m[c.Name] = c.NameEn
		for _, s := range c.Subs {
			m[s.Name] = s.NameEn
		}
	}
	return m
})

// CategoryNameEn returns the English name of a level-1 or level-2 category
// given its zh-CN name, or "" when the name is not in the taxonomy.
func CategoryNameEn(zh string) string {
	return namesEn()[zh]
}
