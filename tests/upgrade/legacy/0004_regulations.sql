-- 0004 regulations: the regulation text the service implements, in versions (G1-G3, S1), staff
-- acknowledgements (G2: the regulations apply to all staff) and the API functions of module G's
-- regulations routes. HR interprets the regulations (S1): only hr creates drafts and publishes.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- A regulation is identified by `code` and numbered by `version` (1, 2, ...). At most one version
-- per code is published at a time; publishing a draft supersedes the published one. Published
-- and superseded versions are read-only. `row_version` is the optimistic-concurrency counter
-- (the API's "version" / ETag); the API calls the regulation's number "regulation_version".

CREATE FUNCTION org.touch_row_version() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.row_version := OLD.row_version + 1;
  NEW.updated_at := now();
  NEW.created_at := OLD.created_at;
  RETURN NEW;
END
$$;

CREATE TABLE org.regulations (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code           text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
  version        int NOT NULL CHECK (version >= 1),
  title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  status         text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'superseded')),
  effective_from date,
  based_on       uuid REFERENCES org.regulations (id),
  published_at   timestamptz,
  published_by   uuid REFERENCES org.employees (id),
  superseded_at  timestamptz,
  created_by     uuid REFERENCES org.employees (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  row_version    int NOT NULL DEFAULT 1,
  UNIQUE (code, version),
  CHECK (status = 'draft' OR (effective_from IS NOT NULL AND published_at IS NOT NULL)),
  CHECK ((status = 'superseded') = (superseded_at IS NOT NULL))
);
-- Exactly one published version per code at a time.
CREATE UNIQUE INDEX regulations_one_published ON org.regulations (code) WHERE status = 'published';
CREATE TRIGGER regulations_touch BEFORE UPDATE ON org.regulations
  FOR EACH ROW EXECUTE FUNCTION org.touch_row_version();

-- Life cycle: draft -> published -> superseded; nothing else changes once published.
CREATE FUNCTION org.regulations_lifecycle() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF OLD.status <> 'draft'
     AND (NEW.code, NEW.version, NEW.title, NEW.effective_from, NEW.based_on, NEW.published_at,
          NEW.published_by, NEW.created_by)
         IS DISTINCT FROM
         (OLD.code, OLD.version, OLD.title, OLD.effective_from, OLD.based_on, OLD.published_at,
          OLD.published_by, OLD.created_by) THEN
    RAISE EXCEPTION 'regulation % version % is % and cannot change', OLD.code, OLD.version,
      OLD.status USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status
     AND NOT ((OLD.status = 'draft' AND NEW.status = 'published')
              OR (OLD.status = 'published' AND NEW.status = 'superseded')) THEN
    RAISE EXCEPTION 'regulation status cannot go from % to %', OLD.status, NEW.status
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER regulations_lifecycle BEFORE UPDATE ON org.regulations
  FOR EACH ROW EXECUTE FUNCTION org.regulations_lifecycle();

CREATE TABLE org.regulation_clauses (
  regulation_id uuid NOT NULL REFERENCES org.regulations (id),
  clause_id     text NOT NULL CHECK (clause_id ~ '^[GCPQRS][0-9]{1,3}(\.[0-9]{1,3})?$'),
  module        text NOT NULL CHECK (module IN ('G', 'C', 'P', 'Q', 'R', 'S')),
  title         text CHECK (length(title) BETWEEN 1 AND 200),
  text_zh       text NOT NULL CHECK (length(text_zh) BETWEEN 1 AND 10000),
  text_en       text CHECK (length(text_en) BETWEEN 1 AND 10000),
  position      int NOT NULL CHECK (position >= 1),
  PRIMARY KEY (regulation_id, clause_id),
  UNIQUE (regulation_id, position),
  CHECK (module = left(clause_id, 1))
);

-- Clauses of a published or superseded version never change.
CREATE FUNCTION org.regulation_clauses_frozen() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND EXISTS (SELECT FROM org.regulations r
                                    WHERE r.id = OLD.regulation_id AND r.status <> 'draft') THEN
    RAISE EXCEPTION 'the clauses of a published regulation cannot change' USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  IF EXISTS (SELECT FROM org.regulations r WHERE r.id = NEW.regulation_id AND r.status <> 'draft')
  THEN
    RAISE EXCEPTION 'the clauses of a published regulation cannot change' USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;

CREATE TABLE org.regulation_acknowledgements (
  regulation_id   uuid NOT NULL REFERENCES org.regulations (id),
  employee_id     uuid NOT NULL REFERENCES org.employees (id),
  acknowledged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (regulation_id, employee_id)
);
CREATE INDEX regulation_acknowledgements_employee_idx
  ON org.regulation_acknowledgements (employee_id);

SELECT audit.attach('org.regulations');
SELECT audit.attach('org.regulation_clauses');
SELECT audit.attach('org.regulation_acknowledgements');

-- Reference data: version 1 of the business-management regulations as published (REGULATIONS.md;
-- the Chinese text of G3, Q1-Q4, where REGULATIONS.md summarizes bilingually, is the source's,
-- original-zh.txt). Inserted before row-level security is turned on, by the owner, so no claim is
-- needed; the audit trail records it with no actor.
INSERT INTO org.regulations (id, code, version, title, status, effective_from, published_at)
VALUES ('5e9a0c1d-0000-4000-8000-000000000001', 'business-management', 1, '天星苑業務五項管理制度',
        'published', '2024-01-01', now());

INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, title, position, text_zh,
                                    text_en)
SELECT '5e9a0c1d-0000-4000-8000-000000000001', c.clause_id, c.module, c.title, c.position,
       c.text_zh, c.text_en
  FROM (VALUES
  ('G1', 'G', '目的 Purpose', 1,
   '規范業務流程,提高工作效率,確保各項業務有序開展,保障公司和客戶的利益。',
   'Standardize business processes, raise efficiency, keep all business orderly, protect the interests of the company and its customers.'),
  ('G2', 'G', '適用范圍 Scope', 2,
   '適用于全體員工,包括但不限于業務部門、支持部門等涉及業務操作的相關人員。',
   'Applies to all employees, including but not limited to the business department, support departments and everyone involved in business operations.'),
  ('G3', 'G', '基本原則 Principles', 3,
   '合法性原則:各項制度符合國家法律法規及相關政策要求。合理性原則:制度設計合理,充分考慮實際業務情況和員工需求。規范性原則:明確業務操作流程、標準和要求,確保工作的規范性和一致性。有效性原則:制度能夠有效指導工作,促進業務發展,提升公司整體運營效率。',
   '合法性 lawful (complies with laws and policy); 合理性 reasonable (fits real business and staff needs); 規范性 standardized (explicit procedures, standards and requirements, consistent work); 有效性 effective (actually guides work, raises efficiency).'),
  ('C1.1', 'C', NULL, 4,
   '業務人員在與客戶接觸過程中,應主動收集客戶基本信息,包括但不限于客戶姓名、聯系方式、公司名稱、經營范圍等。',
   'Business staff actively collect customers'' basic information: at least name, contact details, company name, business scope.'),
  ('C1.2', 'C', NULL, 5,
   '對于潛在客戶,需詳細記錄客戶需求、關注點等信息,以便后續跟進和分析。',
   'For prospects, record their needs and concerns in detail, for follow-up and analysis.'),
  ('C1.3', 'C', NULL, 6,
   '在簽訂業務合同前,必須確保客戶信息的完整性和準確性。',
   'Before a business contract is signed, the customer''s information must be complete and accurate.'),
  ('C2.1', 'C', NULL, 7,
   '收集到的客戶信息應及時進行整理,按照統一的格式進行分類存儲。',
   'Collected information is organized promptly and stored, classified, in one uniform format.'),
  ('C2.2', 'C', NULL, 8,
   '建立電子和紙質客戶信息檔案,電子檔案應定期備份,確保數據安全。',
   'Electronic and paper customer files are kept; electronic files are backed up regularly.'),
  ('C2.3', 'C', NULL, 9,
   '對客戶信息進行加密處理,嚴格限制訪問權限,只有經過授權的人員才能查閱和使用。',
   'Customer information is encrypted; access is strictly limited to authorized people.'),
  ('C3.1', 'C', NULL, 10,
   '客戶信息僅用于公司業務相關目的,不得泄露給任何第三方。',
   'Customer information is used only for company business and never leaked to third parties.'),
  ('C3.2', 'C', NULL, 11,
   '因業務需要共享客戶信息時,必須經過客戶書面同意,并明確共享范圍和用途。',
   'Sharing for business needs requires the customer''s written consent, with an explicit scope and purpose.'),
  ('C3.3', 'C', NULL, 12,
   '在共享客戶信息時,應與接收方簽訂保密協議,確保客戶信息安全。',
   'When sharing, a confidentiality agreement (NDA) is signed with the recipient.'),
  ('C4.1', 'C', NULL, 13,
   '定期對客戶信息進行維護和更新,確保信息的時效性和準確性。',
   'Customer information is reviewed and updated periodically, to stay current and accurate.'),
  ('C4.2', 'C', NULL, 14,
   '業務人員在與客戶溝通或業務操作過程中,如發現客戶信息有變化,應及時進行更新。',
   'Staff who learn of a change during contact or operations update the record promptly.'),
  ('C4.3', 'C', NULL, 15,
   '對于不再與公司有業務往來的客戶,應妥善處理其信息,確保信息安全。',
   'Information of customers who no longer do business with the company is disposed of properly and securely.'),
  ('P1.1', 'P', NULL, 16,
   '客戶提出業務需求后,業務人員應及時接待,并詳細記錄客戶需求。',
   'Staff receive a customer''s request promptly and record the need in detail.'),
  ('P1.2', 'P', NULL, 17,
   '對客戶需求進行初步評估,判斷是否屬于公司業務范圍。',
   'A first assessment decides whether it is within the company''s business scope.'),
  ('P1.3', 'P', NULL, 18,
   '如屬于公司業務范圍,填寫業務受理單,明確業務類型、客戶信息、需求詳情等內容。',
   'If in scope, an intake form states business type, customer information and requirement details.'),
  ('P1.4', 'P', NULL, 19,
   '將業務受理單提交給業務主管進行審核,審核通過后進入業務操作流程。',
   'The intake form goes to the business supervisor for approval; once approved, operation starts.'),
  ('P2.1', 'P', NULL, 20,
   '根據業務類型和客戶需求,安排相應的業務人員或團隊進行操作。',
   'Staff or a team are assigned according to business type and need.'),
  ('P2.2', 'P', NULL, 21,
   '業務人員按照既定的操作規范和標準,開展業務工作,確保工作質量和進度。',
   'Work follows the defined operating standards; quality and schedule are ensured.'),
  ('P2.3', 'P', NULL, 22,
   '在業務操作過程中,如遇到問題或困難,及時向上級匯報,尋求解決方案。',
   'Problems met during the work are escalated to the superior promptly.'),
  ('P2.4', 'P', NULL, 23,
   '每完成一個關鍵環節,業務人員應填寫相應的工作記錄,詳細記錄工作內容、時間、結果等信息。',
   'After each key milestone, a work record states content, time and result.'),
  ('P3.1', 'P', NULL, 24,
   '業務操作完成后,由業務主管對業務結果進行審核。',
   'When the work is done, the supervisor reviews the result.'),
  ('P3.2', 'P', NULL, 25,
   '審核內容包括業務操作的準確性、合規性、完整性等方面。',
   'The review covers accuracy, compliance and completeness.'),
  ('P3.3', 'P', NULL, 26,
   '如審核發現問題,及時反饋給業務人員進行整改,整改完成后再次提交審核。',
   'Problems found go back to the staff for rectification, then the work is resubmitted for review.'),
  ('P3.4', 'P', NULL, 27,
   '審核通過后,業務人員將業務成果提交給客戶,并與客戶進行溝通確認。',
   'Once approved, the result is delivered to the customer and confirmed with them.'),
  ('P4.1', 'P', NULL, 28,
   '業務完成后,業務人員應及時整理業務相關資料,包括業務受理單、工作記錄、業務成果等。',
   'After completion, the intake form, work records and deliverables are collected.'),
  ('P4.2', 'P', NULL, 29,
   '將整理好的業務資料按照檔案管理要求進行歸檔,確保檔案的完整性和規范性。',
   'They are archived per the archive rules, complete and in standard form.'),
  ('P4.3', 'P', NULL, 30,
   '建立業務檔案索引,方便查詢和使用。',
   'An archive index makes them easy to find and use.'),
  ('Q1', 'Q', '考核指標 Indicators', 31,
   '業務完成率:考核業務人員完成既定業務任務的比例。客戶滿意度:通過客戶反饋調查,考核業務人員的服務質量和客戶滿意度。業務準確率:考核業務操作的準確性,減少錯誤率。工作效率:考核業務人員完成業務工作的時間和效率。團隊協作:考核業務人員在團隊合作中的表現和貢獻。',
   '業務完成率 completion rate (share of assigned tasks completed); 客戶滿意度 customer satisfaction (from customer feedback surveys); 業務準確率 accuracy rate (fewer errors); 工作效率 efficiency (time taken); 團隊協作 teamwork (contribution to team work).'),
  ('Q2.1', 'Q', '月度考核 Monthly', 32,
   '每月對業務人員的工作表現進行考核,統計各項考核指標完成情況。',
   'Each month every staff member''s performance is assessed and each indicator tallied.'),
  ('Q2.2', 'Q', '年度考核 Annual', 33,
   '每年對業務人員進行全面考核,綜合月度考核結果和年度工作表現,確定年度考核等級。',
   'Each year a full assessment combines the monthly results and the year''s performance into an annual grade (考核等級).'),
  ('Q3', 'Q', '考核方式 Methods', 34,
   '數據統計:通過業務系統、工作記錄等渠道收集考核數據,進行量化分析。客戶反饋:定期向客戶發放滿意度調查問卷,收集客戶對業務人員的評價和意見。上級評價:業務主管根據日常工作觀察和業務成果審核情況,對業務人員進行評價。自我評估:業務人員對自己的工作表現進行自我評價,總結經驗和不足。',
   '數據統計 statistics from the business system and work records; 客戶反饋 satisfaction questionnaires sent to customers regularly; 上級評價 supervisor evaluation from observation and review results; 自我評估 self-assessment.'),
  ('Q4', 'Q', '結果應用 Use of results', 35,
   '績效獎金發放:根據考核結果,發放相應的績效獎金,激勵業務人員提高工作績效。晉升與調薪:考核結果作為業務人員晉升、調薪的重要依據,優秀的業務人員將獲得更多的晉升機會和薪資調整。培訓與發展:針對考核結果中發現的問題和不足,為業務人員提供有針對性的培訓和發展計劃,幫助其提升業務能力。',
   '績效獎金 performance bonus by result; 晉升與調薪 promotion and salary adjustment based on results; 培訓與發展 targeted training and development plans for weaknesses found.'),
  ('R1.1', 'R', NULL, 36,
   '定期對業務進行風險識別,包括市場風險、信用風險、操作風險等。',
   'Risks are identified regularly: market, credit, operational and others.'),
  ('R1.2', 'R', NULL, 37,
   '采用定性和定量相結合的方法,對識別出的風險進行評估,確定風險等級。',
   'Qualitative and quantitative assessment sets each risk''s level.'),
  ('R1.3', 'R', NULL, 38,
   '建立風險數據庫,記錄風險識別和評估的結果。',
   'A risk database records identification and assessment results.'),
  ('R2.1', 'R', NULL, 39,
   '根據風險評估結果,制定相應的風險應對措施。',
   'Response measures follow from the assessment.'),
  ('R2.2', 'R', NULL, 40,
   '市場風險:市場調研、分析市場趨勢,提前做好應對準備。',
   'Market risk: market research and trend analysis, prepared in advance.'),
  ('R2.3', 'R', NULL, 41,
   '信用風險:加強客戶信用評估,建立信用檔案,采取風險緩釋措施,如要求客戶提供擔保、增加預付款比例等。',
   'Credit risk: customer credit assessment, credit files, mitigation such as guarantees or a higher prepayment ratio.'),
  ('R2.4', 'R', NULL, 42,
   '操作風險:完善業務操作流程和內部控制制度,加強員工培訓。',
   'Operational risk: better procedures and internal controls, staff training.'),
  ('R3.1', 'R', NULL, 43,
   '建立風險監控機制,定期對業務風險狀況進行監控和分析。',
   'Risk status is monitored and analysed regularly.'),
  ('R3.2', 'R', NULL, 44,
   '設定風險預警指標和閾值,當風險指標達到預警值時,及時發出預警信號。',
   'Warning indicators have thresholds; reaching one raises a warning at once.'),
  ('R3.3', 'R', NULL, 45,
   '對預警信號進行深入分析,采取相應的措施進行處理,防范風險擴大。',
   'Each warning is analysed and handled so the risk does not grow.'),
  ('R4.1', 'R', NULL, 46,
   '制定業務風險應急處理預案,明確應急處理流程和責任分工。',
   'Emergency response plans state the procedure and who is responsible for what.'),
  ('R4.2', 'R', NULL, 47,
   '定期對應急處理預案進行演練。',
   'Plans are drilled regularly.'),
  ('R4.3', 'R', NULL, 48,
   '及時總結應急處理經驗教訓,對應急處理預案進行修訂和完善。',
   'Lessons learned are written up and the plans revised.'),
  ('S1', 'S', NULL, 49,
   '本制度由天星苑公司人力資源部負責解釋。',
   'The HR department interprets these regulations.')
  ) AS c(clause_id, module, title, position, text_zh, text_en);

-- From here on, published clauses are frozen (the seed above was written before).
CREATE TRIGGER regulation_clauses_frozen BEFORE INSERT OR UPDATE OR DELETE
  ON org.regulation_clauses FOR EACH ROW EXECUTE FUNCTION org.regulation_clauses_frozen();

-- Row-level security ------------------------------------------------------------------------
ALTER TABLE org.regulations ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.regulations FORCE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_clauses ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_clauses FORCE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_acknowledgements ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_acknowledgements FORCE ROW LEVEL SECURITY;

-- Every employee reads published (and superseded) versions; hr and admin read drafts too.
CREATE POLICY regulations_read ON org.regulations FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL
         AND (status <> 'draft' OR (SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))));
-- Only hr writes (S1): drafts, created by themselves; publishing and superseding.
CREATE POLICY regulations_hr_insert ON org.regulations FOR INSERT
  WITH CHECK ((SELECT tx.has_role('hr')) AND status = 'draft'
              AND created_by = (SELECT tx.user_id()));
CREATE POLICY regulations_hr_update ON org.regulations FOR UPDATE
  USING ((SELECT tx.has_role('hr'))) WITH CHECK ((SELECT tx.has_role('hr')));

-- Clauses are visible with their regulation (its policy applies inside the subquery).
CREATE POLICY regulation_clauses_read ON org.regulation_clauses FOR SELECT
  USING (EXISTS (SELECT FROM org.regulations r WHERE r.id = regulation_id));
CREATE POLICY regulation_clauses_hr_insert ON org.regulation_clauses FOR INSERT
  WITH CHECK ((SELECT tx.has_role('hr'))
              AND EXISTS (SELECT FROM org.regulations r
                           WHERE r.id = regulation_id AND r.status = 'draft'));

-- Each employee acknowledges for themselves, a published version only (G2); hr, admin and auditor
-- read all acknowledgements, everyone else their own.
CREATE POLICY regulation_acks_read ON org.regulation_acknowledgements FOR SELECT
  USING (employee_id = (SELECT tx.user_id())
         OR (SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor')));
CREATE POLICY regulation_acks_insert_own ON org.regulation_acknowledgements FOR INSERT
  WITH CHECK (employee_id = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM org.regulations r
                           WHERE r.id = regulation_id AND r.status = 'published'));

REVOKE ALL ON org.regulations, org.regulation_clauses, org.regulation_acknowledgements FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON org.regulations TO tianxing_app;
GRANT SELECT, INSERT ON org.regulation_clauses, org.regulation_acknowledgements TO tianxing_app;

-- API: regulations ---------------------------------------------------------------------------

CREATE FUNCTION api.regulation_clause_json(c org.regulation_clauses) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('clause_id', c.clause_id, 'module', c.module, 'title', c.title,
                           'text_zh', c.text_zh, 'text_en', c.text_en, 'position', c.position)
$$;

-- One regulation version; with its clauses when p_with_clauses, else with their count.
CREATE FUNCTION api.regulation_json(r org.regulations, p_with_clauses boolean) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', r.id, 'code', r.code, 'regulation_version', r.version, 'title', r.title,
           'status', r.status, 'effective_from', r.effective_from, 'based_on', r.based_on,
           'published_at', api.ts(r.published_at), 'published_by', r.published_by,
           'superseded_at', api.ts(r.superseded_at), 'created_by', r.created_by,
           'created_at', api.ts(r.created_at), 'updated_at', api.ts(r.updated_at),
           'version', r.row_version,
           'clause_count', (SELECT count(*) FROM org.regulation_clauses c
                             WHERE c.regulation_id = r.id),
           'clauses', CASE WHEN p_with_clauses THEN
             (SELECT coalesce(json_agg(api.regulation_clause_json(c) ORDER BY c.position),
                              '[]'::json)
                FROM org.regulation_clauses c WHERE c.regulation_id = r.id) END)
$$;

-- Ordered by code, newest version first. The cursor is "<code>:<regulation_version>" of the last
-- item of the previous page.
CREATE FUNCTION api.regulation_list(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_code text;
  v_version int;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[a-z0-9][a-z0-9-]{1,63}:[0-9]{1,9}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_code := split_part(p_cursor, ':', 1);
    v_version := split_part(p_cursor, ':', 2)::int;
  END IF;
  WITH page AS (
    SELECT r, r.code, r.version,
           row_number() OVER (ORDER BY r.code, r.version DESC) AS rn
      FROM org.regulations r
     WHERE v_code IS NULL OR r.code > v_code OR (r.code = v_code AND r.version < v_version)
     ORDER BY r.code, r.version DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.regulation_json(p.r, false) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.code || ':' || p.version) FILTER (WHERE p.rn = v_limit)
                          END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;

-- The published version of a code (default 'business-management') with its clauses; NULL when
-- there is none.
CREATE FUNCTION api.regulation_current(p_code text) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT api.regulation_json(r, true) FROM org.regulations r
   WHERE r.code = coalesce(p_code, 'business-management') AND r.status = 'published'
$$;

-- One version with its clauses; NULL when it does not exist or is not visible (drafts: hr, admin).
CREATE FUNCTION api.regulation_get(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT api.regulation_json(r, true) FROM org.regulations r WHERE r.id = p_id $$;

-- POST /v1/regulations (hr): a new draft version. Body: {code, title, clauses: [{clause_id,
-- module?, title?, text_zh, text_en?}]} or {based_on: <id>, title?}: a copy of that version's
-- clauses (code and title from it unless given; a given code must be the same).
CREATE FUNCTION api.regulation_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_me uuid;
  v_code text;
  v_title text;
  v_based_on uuid;
  v_src org.regulations;
  v_clauses jsonb;
  v_clause jsonb;
  v_i int := 0;
  v_cid text;
  v_module text;
  v_seen text[] := '{}';
  v_field text;
  v_msg text;
  r org.regulations;
BEGIN
  PERFORM api.require_role('hr');
  v_me := tx.user_id();
  PERFORM api.body_keys(p_body, ARRAY['code', 'title', 'clauses', 'based_on']);
  v_code := api.body_text(p_body, 'code', false, 64);
  IF v_code IS NOT NULL AND v_code !~ '^[a-z0-9][a-z0-9-]{1,63}$' THEN
    PERFORM api.fail('TXVAL', 'code', 'must be 2 to 64 lower-case letters, digits or -');
  END IF;
  v_title := api.body_text(p_body, 'title', false, 200);
  v_based_on := api.body_uuid(p_body, 'based_on', false);
  IF v_based_on IS NOT NULL THEN
    IF p_body ? 'clauses' THEN
      PERFORM api.fail('TXVAL', 'clauses', 'give either clauses or based_on');
    END IF;
    SELECT * INTO v_src FROM org.regulations x WHERE x.id = v_based_on;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'based_on', 'no such regulation');
    END IF;
    IF v_code IS NOT NULL AND v_code <> v_src.code THEN
      PERFORM api.fail('TXVAL', 'code', 'must be the code of the based_on regulation');
    END IF;
    v_code := v_src.code;
    v_title := coalesce(v_title, v_src.title);
  ELSE
    IF v_code IS NULL THEN
      PERFORM api.fail('TXVAL', 'code', 'is required');
    END IF;
    IF v_title IS NULL THEN
      PERFORM api.fail('TXVAL', 'title', 'is required');
    END IF;
    v_clauses := p_body -> 'clauses';
    IF v_clauses IS NULL OR jsonb_typeof(v_clauses) = 'null' THEN
      PERFORM api.fail('TXVAL', 'clauses', 'is required');
    END IF;
    IF jsonb_typeof(v_clauses) <> 'array' OR jsonb_array_length(v_clauses) = 0 THEN
      PERFORM api.fail('TXVAL', 'clauses', 'must be a non-empty array');
    END IF;
    IF jsonb_array_length(v_clauses) > 500 THEN
      PERFORM api.fail('TXVAL', 'clauses', 'at most 500 clauses');
    END IF;
  END IF;

  INSERT INTO org.regulations (code, version, title, status, based_on, created_by)
  VALUES (v_code,
          (SELECT coalesce(max(x.version), 0) + 1 FROM org.regulations x WHERE x.code = v_code),
          v_title, 'draft', v_based_on, v_me)
  RETURNING * INTO r;

  IF v_based_on IS NOT NULL THEN
    INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, title, text_zh,
                                        text_en, position)
    SELECT r.id, c.clause_id, c.module, c.title, c.text_zh, c.text_en, c.position
      FROM org.regulation_clauses c WHERE c.regulation_id = v_based_on;
  ELSE
    FOR v_clause IN SELECT e FROM jsonb_array_elements(v_clauses) e LOOP
      v_i := v_i + 1;
      BEGIN
        -- errors name the clause: clauses[<index>].<field>
        IF jsonb_typeof(v_clause) <> 'object' THEN
          RAISE EXCEPTION 'must be an object' USING ERRCODE = 'TXVAL';
        END IF;
        PERFORM api.body_keys(v_clause,
                              ARRAY['clause_id', 'module', 'title', 'text_zh', 'text_en']);
        v_cid := api.body_text(v_clause, 'clause_id', true, 16);
        IF v_cid !~ '^[GCPQRS][0-9]{1,3}(\.[0-9]{1,3})?$' THEN
          PERFORM api.fail('TXVAL', 'clause_id', 'must look like G1 or C1.3');
        END IF;
        IF v_cid = ANY (v_seen) THEN
          PERFORM api.fail('TXVAL', 'clause_id', 'is repeated');
        END IF;
        v_seen := v_seen || v_cid;
        v_module := coalesce(api.body_text(v_clause, 'module', false, 1), left(v_cid, 1));
        IF v_module <> left(v_cid, 1) THEN
          PERFORM api.fail('TXVAL', 'module', 'must be the first letter of clause_id');
        END IF;
        INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, title, text_zh,
                                            text_en, position)
        VALUES (r.id, v_cid, v_module,
                api.body_text(v_clause, 'title', false, 200),
                api.body_text(v_clause, 'text_zh', true, 10000),
                api.body_text(v_clause, 'text_en', false, 10000),
                v_i);
      EXCEPTION WHEN SQLSTATE 'TXVAL' THEN
        GET STACKED DIAGNOSTICS v_field = COLUMN_NAME, v_msg = MESSAGE_TEXT;
        IF v_field <> '' THEN
          v_msg := substr(v_msg, length(v_field) + 3);
        END IF;
        PERFORM api.fail('TXVAL', format('clauses[%s]', v_i - 1)
                                  || CASE WHEN v_field <> '' THEN '.' || v_field ELSE '' END,
                         v_msg);
      END;
    END LOOP;
  END IF;
  RETURN api.regulation_json(r, true);
END
$$;

-- POST /v1/regulations/{id}/publish (hr, S1): the draft becomes the published version from
-- p_effective_from (default today); the version published before is superseded. TXCON when it is
-- not a draft or has no clauses; TXVAL when it would take effect before the current version.
CREATE FUNCTION api.regulation_publish(p_id uuid, p_effective_from date) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  r org.regulations;
  v_prev org.regulations;
  v_from date := coalesce(p_effective_from, current_date);
BEGIN
  PERFORM api.require_role('hr');
  SELECT * INTO r FROM org.regulations x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  IF r.status <> 'draft' THEN
    RAISE EXCEPTION 'regulation % version % is already %', r.code, r.version, r.status
      USING ERRCODE = 'TXCON';
  END IF;
  IF NOT EXISTS (SELECT FROM org.regulation_clauses c WHERE c.regulation_id = r.id) THEN
    RAISE EXCEPTION 'a regulation without clauses cannot be published' USING ERRCODE = 'TXCON';
  END IF;
  -- Publishing puts the version in force and supersedes the previous one at once, so it cannot
  -- take effect later: HR publishes on the day a version takes effect (or with an earlier date).
  IF v_from > current_date THEN
    PERFORM api.fail('TXVAL', 'effective_from', 'must not be in the future: publish the version on the day it takes effect');
  END IF;
  SELECT * INTO v_prev FROM org.regulations x
   WHERE x.code = r.code AND x.status = 'published' FOR UPDATE;
  IF FOUND THEN
    IF v_prev.effective_from > v_from THEN
      PERFORM api.fail('TXVAL', 'effective_from',
                       format('must not be before %s, when the current version took effect',
                              v_prev.effective_from));
    END IF;
    UPDATE org.regulations x SET status = 'superseded', superseded_at = now()
     WHERE x.id = v_prev.id;
  END IF;
  UPDATE org.regulations x
     SET status = 'published', effective_from = v_from, published_at = now(),
         published_by = tx.user_id()
   WHERE x.id = r.id
  RETURNING * INTO r;
  RETURN api.regulation_json(r, true);
END
$$;

CREATE FUNCTION api.regulation_ack_json(a org.regulation_acknowledgements) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('regulation_id', a.regulation_id, 'employee_id', a.employee_id,
                           'acknowledged_at', api.ts(a.acknowledged_at))
$$;

-- POST /v1/regulations/{id}/acknowledge (every employee, G2): the caller acknowledges a published
-- version. Idempotent: a second call returns the first acknowledgement ("created": false).
CREATE FUNCTION api.regulation_acknowledge(p_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_me uuid := api.require_user();
  r org.regulations;
  a org.regulation_acknowledgements;
  v_created boolean := false;
BEGIN
  SELECT * INTO r FROM org.regulations x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  IF r.status <> 'published' THEN
    RAISE EXCEPTION 'only the published version can be acknowledged (this one is %)', r.status
      USING ERRCODE = 'TXCON';
  END IF;
  INSERT INTO org.regulation_acknowledgements (regulation_id, employee_id)
  VALUES (p_id, v_me)
  ON CONFLICT (regulation_id, employee_id) DO NOTHING
  RETURNING * INTO a;
  v_created := FOUND;
  IF NOT v_created THEN
    SELECT * INTO a FROM org.regulation_acknowledgements x
     WHERE x.regulation_id = p_id AND x.employee_id = v_me;
  END IF;
  RETURN (api.regulation_ack_json(a)::jsonb || jsonb_build_object('created', v_created))::json;
END
$$;

-- GET /v1/regulations/{id}/acknowledgements (hr, admin, auditor): who acknowledged, or with p_pending the
-- active employees who have not. Ordered by username; the cursor is the username of the last
-- item of the previous page.
CREATE FUNCTION api.regulation_acknowledgements(p_id uuid, p_pending boolean, p_limit int,
                                                p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_out json;
BEGIN
  PERFORM api.require_role('hr', 'admin', 'auditor');
  v_limit := api.page_limit(p_limit);
  IF NOT EXISTS (SELECT FROM org.regulations x WHERE x.id = p_id) THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  WITH cand AS (
    SELECT e.id, e.username, e.display_name, e.department_id, a.acknowledged_at
      FROM org.employees e
      LEFT JOIN org.regulation_acknowledgements a
        ON a.regulation_id = p_id AND a.employee_id = e.id
     WHERE CASE WHEN coalesce(p_pending, false) THEN e.active AND a.employee_id IS NULL
                ELSE a.employee_id IS NOT NULL END
       AND (p_cursor IS NULL OR e.username > p_cursor)
     ORDER BY e.username
     LIMIT v_limit + 1),
  page AS (SELECT cand.*, row_number() OVER (ORDER BY cand.username) AS rn FROM cand)
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
                               'employee_id', p.id, 'username', p.username,
                               'display_name', p.display_name, 'department_id', p.department_id,
                               'acknowledged_at', api.ts(p.acknowledged_at)) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.username) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA org FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO tianxing_app;
