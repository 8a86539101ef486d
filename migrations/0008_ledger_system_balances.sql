ALTER TABLE "commerce"."ledger_entries" ALTER COLUMN "balance_after_minor" DROP NOT NULL;--> statement-breakpoint
-- System accounts keep no running balance any more: their balance is the sum of their entries.
UPDATE "commerce"."ledger_entries" SET "balance_after_minor" = NULL
  WHERE "account_id" IN (SELECT "id" FROM "commerce"."ledger_accounts" WHERE "kind" <> 'user_wallet');--> statement-breakpoint
UPDATE "commerce"."ledger_accounts" SET "balance_minor" = 0 WHERE "kind" <> 'user_wallet';
