-- 0019 case work: what part C of module P (work records, escalations, submission for review;
-- P2.2-P2.4, P3.3) needs beyond migration 0018. Runs as tianxing_owner inside the transaction of
-- `tianxingd migrate`. The functions, triggers and policies are in sql/code/cases/040_work.sql.

-- P2.4: one work record per completed key milestone; every further record of that milestone is a
-- correction naming the record it corrects (corrects_id, UNIQUE in 0018: a record is corrected at
-- most once). With one original per (case, milestone), a milestone's records form one chain, and
-- exactly one record of it is in force: the one nobody corrects. The index also settles two
-- concurrent first records of the same milestone (the second is 409 conflict).
CREATE UNIQUE INDEX work_records_one_original ON cases.work_records (case_id, milestone_id)
  WHERE corrects_id IS NULL;
