/**
 * @file tests/bench/load.c
 * @brief Bulk loader of the benchmark (tests/bench/run): N customers with realistic Chinese and
 * English data, sealed and indexed exactly as the service does it (txcore: normalization of
 * src/modules/customers/normalize.c, envelope encryption of src/crypto/envelope.c), streamed with
 * COPY into cust.customers, cust.contacts, cust.data_keys and cust.search_terms: T worker threads
 * (default 2), each making its share of the customers and streaming them over four connections of
 * its own.
 *
 *   bench_load --url CONNINFO --master FILE --index FILE --owner NAME=EMPLOYEE_ID=DEPARTMENT_ID...
 *              [--from I] --count N [--ids-dir DIR] [--now EPOCH] [--threads T]
 *   bench_load --template --master FILE --index FILE
 *
 * The connection must bypass row-level security (COPY FROM refuses a table with policies that
 * apply to the caller, and the tables FORCE them even for their owner): a superuser. It sets
 * session_replication_role = replica, so no trigger runs: not the audit trail (the subject of the
 * benchmark is requests, not a million-row trail), not the foreign-key checks, and not
 * cust.customers_derive either, whose two derived columns this program writes itself: department_id
 * (the owner's, given with --owner) and search_bigrams (cust.bigrams of the lower-cased name and
 * company name), and not cust.search_terms_follow either, whose rows it writes too: one per bigram
 * of search_bigrams, at the customer's updated_at (0044). tests/bench/run checks a sample of all
 * three against the SQL functions afterwards.
 *
 * Customer number i (0-based, --from onwards) is fully determined by i: its id is
 * md5("tianxing-bench:" || i) with the version nibble 4 and the variant nibble 8, so that pgbench
 * can name a random customer with the same SQL expression (tests/bench/pg_read.sql), and its owner
 * is owners[i % number of owners]. Phones, e-mails and credit codes are unique by construction.
 * With --ids-dir the ids are appended to DIR/ids-<owner name>.txt, one per line (read by
 * tests/bench/read.lua).
 *
 * --template prints the JSON body of api.customer_create for the pgbench create reference: sealed
 * and indexed like a request, with the unique parts (customer id, contact ids, blind indexes)
 * ending in QQQQQQQQQQQQ, which tests/bench/pg_create.sql replaces by 12 random hex digits.
 */
#include "crypto/encoding.h"
#include "crypto/envelope.h"
#include "modules/customers/normalize.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OWNERS 16
#define FLUSH_AT (1 << 20)
#define MAX_THREADS 16
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- vocabulary ------------------------------------------------------------------------------ */

static const char *const surnames[] = {
  "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
  "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
  "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
  "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
  "欧阳", "司马"};
static const char *const given[] = {
  "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
  "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "金凤", "玉兰", "志强", "海燕",
  "晓东", "建国", "红梅", "子涵", "浩然", "欣怡", "梓萱", "宇轩", "思远", "嘉怡", "一鸣", "雨桐",
  "俊杰", "佳琪", "晨曦", "天佑", "若曦", "博文", "雅婷", "振宇", "国栋", "丽华", "春生", "秋实"};
static const char *const first_en[] = {
  "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
  "Elizabeth", "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel", "Karen",
  "Emily", "Kevin", "Grace", "Henry", "Olivia", "Jason", "Sophie", "Peter", "Anna", "Eric",
  "Vivian", "Tony", "Cindy", "Frank", "Helen", "Jack", "Lucy", "Leo"};
static const char *const last_en[] = {
  "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Anderson", "Thomas",
  "Jackson", "White", "Harris", "Martin", "Thompson", "Wang", "Li", "Zhang", "Liu", "Chen",
  "Yang", "Huang", "Zhao", "Wu", "Zhou", "Lee", "Wong", "Chan", "Lim", "Tan", "Ng"};
static const char *const cities[] = {
  "北京", "上海", "深圳", "广州", "杭州", "苏州", "成都", "武汉", "南京", "天津", "重庆", "西安",
  "厦门", "青岛", "宁波", "长沙", "郑州", "合肥", "东莞", "佛山", "无锡", "大连", "沈阳", "昆明"};
static const char *const cities_en[] = {
  "Beijing", "Shanghai", "Shenzhen", "Guangzhou", "Hangzhou", "Suzhou", "Chengdu", "Wuhan",
  "Nanjing", "Tianjin", "Xiamen", "Qingdao", "Ningbo", "Hong Kong", "Singapore"};
/* 字号: the distinctive two-character part of a company name. */
static const char *const brands[] = {
  "华鑫", "恒通", "宏达", "金源", "天成", "瑞丰", "嘉禾", "永盛", "鼎信", "博远", "中科", "新锐",
  "盛世", "海纳", "远航", "东方", "长城", "星辰", "云帆", "汇丰", "德润", "安泰", "利民", "宏图",
  "卓越", "精诚", "和信", "正大", "同创", "启明", "睿智", "鸿运", "信达", "万通", "华夏", "腾飞",
  "伟业", "兴隆", "富源", "金桥", "银河", "青松", "宝丰", "隆鑫", "顺达", "联创", "科达", "明辉",
  "恒瑞", "昌盛", "晨光", "春晖", "丰泽", "光华", "国信", "海川", "浩宇", "红星", "华美", "佳和",
  "江南", "锦程", "凯旋", "蓝天", "立信", "龙腾", "美达", "南方", "鹏程", "千禧", "荣达", "三益",
  "尚品", "泰和", "通达", "拓普", "万象", "祥和", "新华", "旭日", "亚太", "扬帆", "怡和", "永安",
  "裕华", "远大", "振华", "致远", "中天", "众诚", "紫金", "百川", "北辰", "创新", "大成", "飞扬"};
static const char *const industries[] = {
  "科技", "贸易", "实业", "电子", "机械", "物流", "建筑", "食品", "医药", "化工", "纺织", "传媒",
  "咨询", "能源", "环保", "信息技术", "网络科技", "生物科技", "新材料", "汽车配件", "进出口",
  "电气", "投资", "商贸", "包装", "家具", "服饰", "农业"};
static const char *const brands_en[] = {
  "Pacific", "Golden Bridge", "Silver River", "Evergreen", "Summit", "Harbor", "Orient",
  "Great Wall", "Bright Star", "Blue Sky", "Dragon", "Phoenix", "Lotus", "Jade", "Unity",
  "Pioneer", "Horizon", "Crystal", "Red Star", "Everbright"};
static const char *const industries_en[] = {
  "Technology", "Trading", "Industrial", "Electronics", "Machinery", "Logistics", "Foods",
  "Pharmaceutical", "Chemical", "Textile", "Media", "Consulting", "Energy", "Import & Export"};
static const char *const scopes[] = {
  "电子产品、计算机软硬件的技术开发、销售；技术咨询、技术服务。",
  "货物进出口、技术进出口；国内贸易代理；供应链管理服务。",
  "机械设备及配件的研发、生产、销售；机械设备租赁。",
  "道路货物运输；仓储服务（不含危险化学品）；国际货运代理。",
  "食品经营；农副产品销售；餐饮管理。",
  "建筑工程施工；市政公用工程；装饰装修工程设计与施工。",
  "医疗器械经营；药品批发；健康咨询服务。",
  "化工产品（不含许可类化工产品）销售；新材料技术研发。",
  "广告设计、制作、代理；企业形象策划；会议及展览服务。",
  "Software development, IT consulting and system integration.",
  "Import and export of general merchandise; wholesale and retail.",
  "Manufacturing and sale of auto parts and accessories.",
  "Logistics, warehousing and freight forwarding services."};
static const char *const districts[] = {
  "朝阳区", "海淀区", "浦东新区", "徐汇区", "南山区", "福田区", "天河区", "西湖区", "工业园区",
  "武侯区", "江汉区", "鼓楼区", "和平区", "渝中区", "雁塔区", "思明区", "市南区", "鄞州区"};
static const char *const roads[] = {
  "中山路", "人民路", "解放路", "建设路", "和平路", "科技园路", "张江路", "长安街", "南京路",
  "深南大道", "天府大道", "延安路", "学院路", "滨江路", "创业路", "新华路"};
static const char *const positions[] = {
  "总经理", "副总经理", "采购经理", "财务总监", "销售总监", "技术总监", "行政主管", "董事长",
  "法务经理", "项目经理", "CEO", "Purchasing Manager", "Finance Director", "Sales Manager",
  "Operations Director"};
static const char *const mail_domains[] = {
  "qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "aliyun.com",
  "foxmail.com", "yahoo.com", "hotmail.com"};
static const char *const tags[] = {
  "VIP", "重点客户", "外贸", "制造业", "长期合作", "新客户", "政府项目", "高潜力", "需回访",
  "key-account", "export", "SME"};
static const char *const sources[] = {
  "展会", "转介绍", "官网", "电话营销", "线上广告", "老客户推荐", "行业协会", "referral",
  "website", "trade show"};
static const char *const needs_list[] = {
  "希望降低采购成本，关注交货周期。", "需要定制化方案和专人对接。", "计划明年扩大产能，寻求长期供应商。",
  "关注售后服务响应速度。", "Looking for a reliable long-term supplier.",
  "Needs monthly invoicing and net-60 payment terms."};
static const char *const concerns_list[] = {
  "对价格较为敏感。", "担心产品质量稳定性。", "付款周期较长。", "决策流程复杂，需多部门审批。",
  "Worried about delivery delays.", "Prefers English-speaking contacts."};
static const char *const regions[] = {"110105", "310115", "440305", "440106", "330106",
                                      "320505", "510107", "420103", "320106", "120101"};
static const char *const pinyin[] = {
  "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun",
  "ma", "zhu", "hu", "guo", "he", "gao", "lin", "luo", "wei", "fang", "na", "min", "jing",
  "qiang", "lei", "jun", "yang", "yong", "jie", "tao", "ming", "chao", "xia", "ping", "gang"};

/* ---- deterministic randomness: every value of customer i follows from i -------------------- */

struct rng {
  uint64_t s;
};
static uint64_t next(struct rng *r)
{
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static unsigned below(struct rng *r, unsigned n) { return (unsigned)(next(r) % n); }
static bool chance(struct rng *r, unsigned percent) { return below(r, 100) < percent; }
#define PICK(r, list) ((list)[below((r), ARRAY_LEN(list))])

/* ---- growable text buffer --------------------------------------------------------------------- */

struct buf {
  char *p;
  size_t len, cap;
};
static void grow(struct buf *b, size_t more)
{
  if (b->len + more + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more + 1)
    cap *= 2;
  b->p = realloc(b->p, cap);
  if (!b->p) {
    fprintf(stderr, "bench_load: out of memory\n");
    exit(1);
  }
  b->cap = cap;
}
static void put(struct buf *b, const char *s, size_t n)
{
  grow(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }
static void printf_(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  grow(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* COPY text format: one field, escaped; NULL as \N. */
static void field(struct buf *b, const char *s)
{
  if (!s) {
    puts_(b, "\\N");
    return;
  }
  while (*s) {
    size_t n = strcspn(s, "\\\t\n\r");
    put(b, s, n);
    s += n;
    if (!*s)
      break;
    puts_(b, *s == '\\' ? "\\\\" : *s == '\t' ? "\\t" : *s == '\n' ? "\\n" : "\\r");
    s++;
  }
}

static void sep(struct buf *b) { put(b, "\t", 1); }
static void eol(struct buf *b) { put(b, "\n", 1); }

/* bytea in COPY text: \\x<hex> (the backslash escaped for COPY). */
static void field_bytes(struct buf *b, const unsigned char *data, size_t len)
{
  if (!data) {
    puts_(b, "\\N");
    return;
  }
  grow(b, 2 * len + 3);
  memcpy(b->p + b->len, "\\\\x", 3);
  tx_hex(data, len, b->p + b->len + 3);
  b->len += 3 + 2 * len;
}

/* A text[] value in COPY text: every element double-quoted, " and \ escaped for the array
 * literal, then the whole escaped again for COPY. */
static void field_array(struct buf *b, const char *const *items, size_t n)
{
  struct buf lit = {0};
  puts_(&lit, "{");
  for (size_t i = 0; i < n; i++) {
    if (i)
      puts_(&lit, ",");
    puts_(&lit, "\"");
    for (const char *s = items[i]; *s; s++) {
      if (*s == '"' || *s == '\\')
        puts_(&lit, "\\");
      put(&lit, s, 1);
    }
    puts_(&lit, "\"");
  }
  puts_(&lit, "}");
  field(b, lit.p);
  free(lit.p);
}

/* ---- derived values ----------------------------------------------------------------------- */

static size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* cust.bigrams(lower(name || ' ' || coalesce(company_name, ''))): every two consecutive
 * characters without white space, distinct, in byte order (COLLATE "C"). lower() is ASCII here:
 * the generated text is ASCII and CJK only, which has no case. Also the customer's rows of
 * cust.search_terms into @p terms: (bigram, updated_at, id) for each (0044). */
static void field_bigrams(struct buf *b, const char *name, const char *company, struct buf *terms,
                          const char *updated, const char *id)
{
  char text[1024];
  snprintf(text, sizeof text, "%s %s", name, company ? company : "");
  for (char *p = text; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  const char *starts[512];
  size_t nchars = 0;
  for (const char *p = text; *p && nchars < ARRAY_LEN(starts); p += utf8_len((unsigned char)*p))
    starts[nchars++] = p;
  char *grams[512];
  size_t ngrams = 0;
  for (size_t i = 0; i + 1 < nchars; i++) {
    if (*starts[i] == ' ' || *starts[i + 1] == ' ')
      continue;
    size_t len = utf8_len((unsigned char)*starts[i]) + utf8_len((unsigned char)*starts[i + 1]);
    grams[ngrams++] = strndup(starts[i], len);
  }
  qsort(grams, ngrams, sizeof grams[0], cmp_str);
  size_t w = 0;
  for (size_t i = 0; i < ngrams; i++) {
    if (w && !strcmp(grams[w - 1], grams[i]))
      free(grams[i]);
    else
      grams[w++] = grams[i];
  }
  field_array(b, (const char *const *)grams, w);
  for (size_t i = 0; i < w; i++) {
    field(terms, grams[i]), sep(terms);
    field(terms, updated), sep(terms);
    field(terms, id), eol(terms);
    free(grams[i]);
  }
}

/* The id of customer i: md5("tianxing-bench:" || i), version 4, variant 8 -- the same as the SQL
 * overlay(overlay(md5('tianxing-bench:' || i) placing '4' from 13) placing '8' from 17)::uuid. */
static void customer_id(long i, char out[37])
{
  char text[48];
  unsigned char md[16];
  char h[33];
  int n = snprintf(text, sizeof text, "tianxing-bench:%ld", i);
  EVP_Digest(text, (size_t)n, md, NULL, EVP_md5(), NULL);
  tx_hex(md, 16, h);
  h[12] = '4';
  h[16] = '8';
  snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static void random_uuid(struct rng *r, char out[37])
{
  uint64_t a = next(r), c = next(r);
  snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
           (unsigned)a & 0xfff, (unsigned)(0x8000 | ((c >> 48) & 0x3fff)),
           (unsigned long long)(c & 0xffffffffffffull));
}

static const char credit_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* A valid 統一社會信用代碼, unique per n: "91" (enterprise), a region, 9 characters from n, and
 * the GB 32100 check digit. */
static void credit_code(uint64_t n, struct rng *r, char out[19])
{
  static const int weights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
  const uint64_t space = 26439622160671ull; /* 31^9 */
  uint64_t v = (n * 2654435761ull + 12345) % space;
  snprintf(out, 19, "91%s", PICK(r, regions));
  for (int i = 16; i >= 8; i--) {
    out[i] = credit_alphabet[v % 31];
    v /= 31;
  }
  int sum = 0;
  for (int i = 0; i < 17; i++)
    sum += (int)(strchr(credit_alphabet, out[i]) - credit_alphabet) * weights[i];
  out[17] = credit_alphabet[(31 - sum % 31) % 31];
  out[18] = '\0';
}

static void timestamp(time_t t, long usec, char out[40])
{
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%06ld+00", usec);
}

/* ---- one customer ------------------------------------------------------------------------- */

struct owner {
  char name[64], id[37], department[37];
};

struct tables {
  struct buf customers, contacts, keys, terms;
};

static void die(const char *what)
{
  fprintf(stderr, "bench_load: %s\n", what);
  exit(1);
}

/* Normalizes free text like the service (NFC, trimmed); the generated text is already clean. */
static char *norm_text(const char *in, size_t max)
{
  char *out = NULL;
  if (tx_cust_text(in, max, true, &out))
    die("generated text does not normalize");
  return out;
}

/* Sealed + blind-indexed like modules/customers/pii.c seal_into(). */
static void seal(const unsigned char *dek, const char *cid, const char *fieldname, const char *plain,
                 unsigned char **sealed, size_t *len)
{
  if (tx_field_seal(dek, cid, fieldname, plain, sealed, len))
    die("tx_field_seal failed");
}

static void person_name(struct rng *r, bool chinese, char *out, size_t len)
{
  if (chinese)
    snprintf(out, len, "%s%s", PICK(r, surnames), PICK(r, given));
  else
    snprintf(out, len, "%s %s", PICK(r, first_en), PICK(r, last_en));
}

static void one_customer(long i, const struct owner *owners, size_t nowners, time_t now,
                         struct tables *t, FILE *const *ids_out)
{
  struct rng r = {(uint64_t)i * 0x9E3779B97F4A7C15ull ^ 0x5DEECE66Dull};
  next(&r);
  char id[37], key_id[TX_KEY_ID_MAX];
  customer_id(i, id);
  size_t k = (size_t)i % nowners;
  const struct owner *o = &owners[k];
  if (ids_out && ids_out[k])
    fprintf(ids_out[k], "%s\n", id);

  unsigned char dek[TX_DEK_LEN], *wrapped = NULL;
  size_t wlen;
  if (tx_dek_create(id, dek, key_id, &wrapped, &wlen))
    die("tx_dek_create failed");

  bool chinese = chance(&r, 75);
  char name_raw[128], company_raw[256], address_raw[256];
  person_name(&r, chinese, name_raw, sizeof name_raw);
  bool has_company = chance(&r, 95);
  if (!has_company)
    company_raw[0] = '\0';
  else if (chance(&r, 85)) {
    unsigned s = below(&r, 100);
    snprintf(company_raw, sizeof company_raw, "%s%s%s%s", PICK(&r, cities), PICK(&r, brands),
             PICK(&r, industries), s < 80 ? "有限公司" : s < 95 ? "股份有限公司" : "集团有限公司");
  } else {
    if (chance(&r, 50))
      snprintf(company_raw, sizeof company_raw, "%s %s %s", PICK(&r, cities_en), PICK(&r, brands_en),
               PICK(&r, industries_en));
    else
      snprintf(company_raw, sizeof company_raw, "%s %s", PICK(&r, brands_en), PICK(&r, industries_en));
    size_t n = strlen(company_raw);
    snprintf(company_raw + n, sizeof company_raw - n, "%s",
             chance(&r, 60) ? " Co., Ltd." : chance(&r, 50) ? " Ltd." : " Group");
  }
  snprintf(address_raw, sizeof address_raw, "%s市%s%s%u号%s", PICK(&r, cities), PICK(&r, districts),
           PICK(&r, roads), 1 + below(&r, 999), chance(&r, 40) ? "" : "B座");

  char *name = norm_text(name_raw, 100);
  char *company = has_company ? norm_text(company_raw, 200) : NULL;
  char *address = norm_text(address_raw, 500);
  const char *scope = chance(&r, 80) ? PICK(&r, scopes) : NULL;
  const char *status;
  unsigned s = below(&r, 100);
  status = s < 55 ? "active" : s < 85 ? "prospect" : "inactive";
  const char *tag_items[3];
  size_t ntags = below(&r, 4);
  for (size_t j = 0; j < ntags; j++) {
    tag_items[j] = PICK(&r, tags);
    for (size_t q = 0; q < j; q++)
      if (tag_items[q] == tag_items[j])
        ntags = j; /* a repeat ends the list */
  }
  const char *source = chance(&r, 85) ? PICK(&r, sources) : NULL;
  const char *needs = chance(&r, 60) ? PICK(&r, needs_list) : NULL;
  const char *concerns = chance(&r, 40) ? PICK(&r, concerns_list) : NULL;

  /* Created within the last three years, updated since, verified in between (or never). */
  time_t created = now - 60 - (time_t)below(&r, 3 * 365 * 86400);
  time_t updated = created + (time_t)(next(&r) % (uint64_t)(now - 60 - created + 1));
  char created_s[40], updated_s[40], verified_s[40];
  timestamp(created, (long)below(&r, 1000000), created_s);
  timestamp(updated, (long)below(&r, 1000000), updated_s);
  bool verified = chance(&r, 60);
  if (verified)
    timestamp(created + (time_t)(next(&r) % (uint64_t)(updated - created + 1)),
              (long)below(&r, 1000000), verified_s);

  unsigned char *address_enc, *code_enc = NULL, code_bidx[32];
  size_t address_len, code_len = 0;
  seal(dek, id, "address", address, &address_enc, &address_len);
  bool has_code = company && chance(&r, 85);
  if (has_code) {
    char raw[19], code[19];
    credit_code((uint64_t)i, &r, raw);
    if (tx_cust_credit_code(raw, code))
      die("generated credit code is invalid");
    seal(dek, id, "credit_code", code, &code_enc, &code_len);
    if (tx_blind_index("credit_code", code, code_bidx))
      die("tx_blind_index failed");
  }

  struct buf *c = &t->customers;
  field(c, id), sep(c);
  field(c, name), sep(c);
  field(c, company), sep(c);
  field(c, scope), sep(c);
  field_bytes(c, address_enc, address_len), sep(c);
  field_bytes(c, code_enc, code_len), sep(c);
  field_bytes(c, has_code ? code_bidx : NULL, 32), sep(c);
  field(c, status), sep(c);
  field_array(c, tag_items, ntags), sep(c);
  field(c, source), sep(c);
  field(c, needs), sep(c);
  field(c, concerns), sep(c);
  field(c, o->id), sep(c);
  field(c, o->department), sep(c);
  field(c, verified ? verified_s : NULL), sep(c);
  field_bigrams(c, name, company, &t->terms, updated_s, id), sep(c);
  field(c, "1"), sep(c);
  field(c, created_s), sep(c);
  field(c, updated_s), eol(c);

  /* 1 to 3 contacts; phones and e-mails unique by the contact's serial number (3 per customer). */
  unsigned ncontacts = 1 + below(&r, 3);
  for (unsigned j = 0; j < ncontacts; j++) {
    uint64_t serial = (uint64_t)i * 3 + j;
    char cid[37], cname[128], phone_raw[32], phone[17], mail_raw[160], mail[255], sealfield[96];
    random_uuid(&r, cid);
    bool zh = chance(&r, chinese ? 90 : 30);
    person_name(&r, zh, cname, sizeof cname);
    const char *position = chance(&r, 85) ? PICK(&r, positions) : NULL;
    /* 130 0000 0000 .. 189 9999 9999: a bijection of the serial (7919 is prime to 6e9). */
    uint64_t number = 13000000000ull + (serial * 7919 + 1) % 6000000000ull;
    snprintf(phone_raw, sizeof phone_raw, "%llu", (unsigned long long)number);
    snprintf(mail_raw, sizeof mail_raw, "%s.%s%llu@%s", PICK(&r, pinyin), PICK(&r, pinyin),
             (unsigned long long)serial, PICK(&r, mail_domains));
    bool has_phone = chance(&r, 95), has_mail = chance(&r, 80);
    unsigned char *phone_enc = NULL, *mail_enc = NULL, phone_bidx[32], mail_bidx[32];
    size_t phone_len = 0, mail_len = 0;
    if (has_phone) {
      if (tx_cust_phone_e164(phone_raw, phone))
        die("generated phone is invalid");
      snprintf(sealfield, sizeof sealfield, "contact:%s:phone", cid);
      seal(dek, id, sealfield, phone, &phone_enc, &phone_len);
      if (tx_blind_index("phone", phone, phone_bidx))
        die("tx_blind_index failed");
    }
    if (has_mail) {
      if (tx_cust_email(mail_raw, mail))
        die("generated e-mail is invalid");
      snprintf(sealfield, sizeof sealfield, "contact:%s:email", cid);
      seal(dek, id, sealfield, mail, &mail_enc, &mail_len);
      if (tx_blind_index("email", mail, mail_bidx))
        die("tx_blind_index failed");
    }
    struct buf *k2 = &t->contacts;
    field(k2, cid), sep(k2);
    field(k2, id), sep(k2);
    printf_(k2, "%u", j), sep(k2);
    field(k2, cname), sep(k2);
    field(k2, position), sep(k2);
    field_bytes(k2, phone_enc, phone_len), sep(k2);
    field_bytes(k2, has_phone ? phone_bidx : NULL, 32), sep(k2);
    field_bytes(k2, mail_enc, mail_len), sep(k2);
    field_bytes(k2, has_mail ? mail_bidx : NULL, 32), sep(k2);
    field(k2, created_s), eol(k2);
    free(phone_enc);
    free(mail_enc);
  }

  struct buf *d = &t->keys;
  field(d, id), sep(d);
  field(d, key_id), sep(d);
  field_bytes(d, wrapped, wlen), sep(d);
  field(d, created_s), eol(d);

  OPENSSL_cleanse(dek, sizeof dek);
  free(wrapped);
  free(address_enc);
  free(code_enc);
  free(name);
  free(company);
  free(address);
}

/* ---- COPY plumbing ------------------------------------------------------------------------- */

static PGconn *open_copy(const char *url, const char *copy_sql)
{
  PGconn *pg = PQconnectdb(url);
  if (PQstatus(pg) != CONNECTION_OK) {
    fprintf(stderr, "bench_load: %s", PQerrorMessage(pg));
    exit(1);
  }
  /* replica: no triggers (audit, derived columns, foreign keys; see the top of this file). The
   * GIN index's pending list grows to 64 MB before it is merged: fewer, larger merges. */
  const char *setup[] = {"SET session_replication_role = replica", "SET gin_pending_list_limit = '64MB'",
                         "SET work_mem = '256MB'", "SET synchronous_commit = off", "BEGIN", copy_sql};
  for (size_t i = 0; i < ARRAY_LEN(setup); i++) {
    PGresult *res = PQexec(pg, setup[i]);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_COPY_IN) {
      fprintf(stderr, "bench_load: %s: %s", setup[i], PQerrorMessage(pg));
      exit(1);
    }
    PQclear(res);
  }
  return pg;
}

static void flush(PGconn *pg, struct buf *b)
{
  if (!b->len)
    return;
  if (PQputCopyData(pg, b->p, (int)b->len) != 1) {
    fprintf(stderr, "bench_load: COPY: %s", PQerrorMessage(pg));
    exit(1);
  }
  b->len = 0;
}

static void finish(PGconn *pg, const char *what)
{
  if (PQputCopyEnd(pg, NULL) != 1) {
    fprintf(stderr, "bench_load: %s: %s", what, PQerrorMessage(pg));
    exit(1);
  }
  PGresult *res;
  bool ok = true;
  while ((res = PQgetResult(pg))) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      fprintf(stderr, "bench_load: %s: %s", what, PQresultErrorMessage(res));
      ok = false;
    }
    PQclear(res);
  }
  if (!ok)
    exit(1);
}

static void commit(PGconn *pg, const char *what)
{
  PGresult *res = PQexec(pg, "COMMIT");
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    fprintf(stderr, "bench_load: %s: COMMIT: %s", what, PQerrorMessage(pg));
    exit(1);
  }
  PQclear(res);
  PQfinish(pg);
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- workers --------------------------------------------------------------------------------- */

struct worker {
  const char *url;
  long from, to; /* customers from..to-1 */
  const struct owner *owners;
  size_t nowners;
  time_t now;
  FILE *const *ids_out; /* shared: stdio locks each stream per call, and lines stay whole */
  double t0;
  bool report; /* prints the progress of all workers */
  pthread_t thread;
  PGconn *pc, *pk, *pd, *ps; /* left open, in their transactions, for main to commit */
};

static atomic_long loaded;

static void *run_worker(void *arg)
{
  struct worker *w = arg;
  PGconn *pc = open_copy(w->url, "COPY cust.customers (id, name, company_name, business_scope, "
                                 "address_enc, credit_code_enc, credit_code_bidx, status, tags, "
                                 "source, needs, concerns, owner_id, department_id, "
                                 "last_verified_at, search_bigrams, version, created_at, "
                                 "updated_at) FROM STDIN");
  PGconn *pk = open_copy(w->url, "COPY cust.contacts (id, customer_id, seq, name, position, "
                                 "phone_enc, phone_bidx, email_enc, email_bidx, created_at) FROM STDIN");
  PGconn *pd = open_copy(w->url, "COPY cust.data_keys (customer_id, key_id, wrapped, created_at) FROM STDIN");
  PGconn *ps = open_copy(w->url, "COPY cust.search_terms (bigram, updated_at, customer_id) FROM STDIN");
  struct tables t = {0};
  double last = w->t0;
  for (long i = w->from; i < w->to; i++) {
    one_customer(i, w->owners, w->nowners, w->now, &t, w->ids_out);
    if (t.customers.len > FLUSH_AT)
      flush(pc, &t.customers);
    if (t.contacts.len > FLUSH_AT)
      flush(pk, &t.contacts);
    if (t.keys.len > FLUSH_AT)
      flush(pd, &t.keys);
    if (t.terms.len > FLUSH_AT)
      flush(ps, &t.terms);
    long done = atomic_fetch_add(&loaded, 1) + 1;
    if (w->report && (i - w->from + 1) % 10000 == 0 && now_s() - last > 5) {
      last = now_s();
      fprintf(stderr, "bench_load: %ld customers, %.0f/s\n", done, (double)done / (last - w->t0));
    }
  }
  flush(pc, &t.customers);
  flush(pk, &t.contacts);
  flush(pd, &t.keys);
  flush(ps, &t.terms);
  finish(pc, "customers");
  finish(pk, "contacts");
  finish(pd, "data_keys");
  finish(ps, "search_terms");
  /* Committed by main once every worker has finished: a failure anywhere (each exits the
   * process) leaves nothing loaded, not some workers' share. */
  w->pc = pc;
  w->pk = pk;
  w->pd = pd;
  w->ps = ps;
  free(t.customers.p);
  free(t.contacts.p);
  free(t.keys.p);
  free(t.terms.p);
  return NULL;
}

/* ---- --template ---------------------------------------------------------------------------- */

static const char placeholder[] = "QQQQQQQQQQQQ";

/* "\\x" + hex of @p len bytes whose last 12 hex digits are the placeholder. */
static void json_hex(struct buf *b, const unsigned char *data, size_t len, bool unique)
{
  char h[2 * 2048 + 1];
  tx_hex(data, len, h);
  if (unique)
    memcpy(h + 2 * len - 12, placeholder, 12);
  printf_(b, "\"\\\\x%s\"", h);
}

static int print_template(void)
{
  /* The same fields as tests/bench/create.lua sends, sealed for a fixed customer id; the sealed
   * bytes only need the right sizes: nobody opens these rows. */
  const char *id = "b0000000-0000-4000-8000-QQQQQQQQQQQQ";
  const char *c1 = "b1000000-0000-4000-8000-QQQQQQQQQQQQ", *c2 = "b2000000-0000-4000-8000-QQQQQQQQQQQQ";
  unsigned char dek[TX_DEK_LEN], *wrapped, *sealed, bidx[32];
  size_t wlen, len;
  char key_id[TX_KEY_ID_MAX], field_name[96];
  if (tx_dek_create(id, dek, key_id, &wrapped, &wlen))
    die("tx_dek_create failed");
  struct buf b = {0};
  printf_(&b, "{\"id\":\"%s\",\"name\":\"张伟\",\"company_name\":\"上海华鑫科技有限公司\","
              "\"business_scope\":\"电子产品、计算机软硬件的技术开发、销售；技术咨询、技术服务。\","
              "\"status\":\"prospect\",\"tags\":[\"新客户\",\"制造业\"],\"source\":\"展会\","
              "\"needs\":\"希望降低采购成本，关注交货周期。\",\"address_enc\":",
          id);
  seal(dek, id, "address", "上海市浦东新区张江路88号B座", &sealed, &len);
  json_hex(&b, sealed, len, false);
  free(sealed);
  puts_(&b, ",\"credit_code_enc\":");
  seal(dek, id, "credit_code", "92310115MA1K3ABC4X", &sealed, &len);
  json_hex(&b, sealed, len, false);
  free(sealed);
  puts_(&b, ",\"credit_code_bidx\":");
  tx_blind_index("credit_code", "92310115MA1K3ABC4X", bidx);
  json_hex(&b, bidx, 32, true);
  const char *cids[2] = {c1, c2};
  puts_(&b, ",\"contacts\":[");
  for (int j = 0; j < 2; j++) {
    printf_(&b, "%s{\"id\":\"%s\",\"name\":\"%s\",\"position\":\"%s\",\"phone_enc\":", j ? "," : "",
            cids[j], j ? "Emily Chen" : "李娜", j ? "Purchasing Manager" : "总经理");
    snprintf(field_name, sizeof field_name, "contact:%s:phone", cids[j]);
    seal(dek, id, field_name, "+8619912345678", &sealed, &len);
    json_hex(&b, sealed, len, false);
    free(sealed);
    puts_(&b, ",\"phone_bidx\":");
    tx_blind_index("phone", j ? "+8619912345679" : "+8619912345678", bidx);
    json_hex(&b, bidx, 32, true);
    puts_(&b, ",\"email_enc\":");
    snprintf(field_name, sizeof field_name, "contact:%s:email", cids[j]);
    seal(dek, id, field_name, "bench.0.1@create.example.cn", &sealed, &len);
    json_hex(&b, sealed, len, false);
    free(sealed);
    puts_(&b, ",\"email_bidx\":");
    tx_blind_index("email", j ? "bench.0.2@create.example.cn" : "bench.0.1@create.example.cn", bidx);
    json_hex(&b, bidx, 32, true);
    puts_(&b, "}");
  }
  printf_(&b, "],\"dek\":{\"key_id\":\"%s\",\"wrapped\":", key_id);
  json_hex(&b, wrapped, wlen, false);
  puts_(&b, "}}");
  puts(b.p);
  free(b.p);
  free(wrapped);
  return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(void)
{
  fprintf(stderr, "usage: bench_load --url CONNINFO --master FILE --index FILE "
                  "--owner NAME=EMPLOYEE_ID=DEPARTMENT_ID... [--from I] --count N [--ids-dir DIR] "
                  "[--now EPOCH] [--threads T]\n       bench_load --template --master FILE --index FILE\n");
  exit(2);
}

int main(int argc, char **argv)
{
  const char *url = NULL, *master = NULL, *index = NULL, *ids_dir = NULL;
  long from = 0, count = -1;
  time_t now = time(NULL);
  bool template = false;
  int threads = 2;
  struct owner owners[MAX_OWNERS];
  size_t nowners = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--template")) {
      template = true;
      continue;
    }
    if (!v)
      usage();
    i++;
    if (!strcmp(a, "--url"))
      url = v;
    else if (!strcmp(a, "--master"))
      master = v;
    else if (!strcmp(a, "--index"))
      index = v;
    else if (!strcmp(a, "--ids-dir"))
      ids_dir = v;
    else if (!strcmp(a, "--from"))
      from = atol(v);
    else if (!strcmp(a, "--count"))
      count = atol(v);
    else if (!strcmp(a, "--threads"))
      threads = atoi(v);
    else if (!strcmp(a, "--now"))
      now = (time_t)atol(v);
    else if (!strcmp(a, "--owner") && nowners < MAX_OWNERS) {
      struct owner *o = &owners[nowners++];
      if (sscanf(v, "%63[^=]=%36[^=]=%36s", o->name, o->id, o->department) != 3)
        usage();
    } else
      usage();
  }
  if (!master || !index)
    usage();
  char err[256];
  if (tx_envelope_load(master, index, err, sizeof err)) {
    fprintf(stderr, "bench_load: %s\n", err);
    return 1;
  }
  if (template)
    return print_template();
  if (!url || count < 0 || from < 0 || count > 100000000 || from > 100000000 || !nowners ||
      threads < 1 || threads > MAX_THREADS)
    usage();

  FILE *ids_out[MAX_OWNERS] = {0};
  if (ids_dir)
    for (size_t k = 0; k < nowners; k++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/ids-%s.txt", ids_dir, owners[k].name);
      if (!(ids_out[k] = fopen(path, "a"))) {
        perror(path);
        return 1;
      }
    }

  /* The generation (normalization, sealing, HMACs) is as much CPU as PostgreSQL's side of the
   * COPY; one thread left a core idle a third of the time. Each worker streams its share over
   * its own four connections, in one transaction per table and worker. */
  struct worker workers[MAX_THREADS];
  long share = (count + threads - 1) / threads;
  double t0 = now_s();
  for (int w = 0; w < threads; w++) {
    long lo = from + w * share, hi = lo + share < from + count ? lo + share : from + count;
    workers[w] = (struct worker){.url = url, .from = lo, .to = hi < lo ? lo : hi, .owners = owners,
                                 .nowners = nowners, .now = now, .ids_out = ids_out, .t0 = t0,
                                 .report = w == 0};
    if (pthread_create(&workers[w].thread, NULL, run_worker, &workers[w])) {
      fprintf(stderr, "bench_load: pthread_create failed\n");
      exit(1); /* nothing is committed yet */
    }
  }
  for (int w = 0; w < threads; w++)
    pthread_join(workers[w].thread, NULL);
  for (int w = 0; w < threads; w++) {
    commit(workers[w].pc, "customers");
    commit(workers[w].pk, "contacts");
    commit(workers[w].pd, "data_keys");
    commit(workers[w].ps, "search_terms");
  }
  double secs = now_s() - t0;
  for (size_t k = 0; k < nowners; k++)
    if (ids_out[k])
      fclose(ids_out[k]);
  tx_envelope_shutdown();
  /* One JSON line for tests/bench/run. */
  printf("{\"customers\":%ld,\"seconds\":%.3f,\"rate\":%.0f}\n", count, secs,
         secs > 0 ? (double)count / secs : 0.0);
  return 0;
}
