CREATE SCHEMA "commerce";
--> statement-breakpoint
CREATE SCHEMA "enrollment";
--> statement-breakpoint
CREATE TYPE "commerce"."coupon_kind" AS ENUM('percent', 'fixed');--> statement-breakpoint
CREATE TYPE "commerce"."ledger_account_kind" AS ENUM('user_wallet', 'platform_revenue', 'voucher_float', 'refunds', 'gateway_clearing');--> statement-breakpoint
CREATE TYPE "commerce"."order_status" AS ENUM('pending', 'paid', 'failed', 'cancelled', 'refunded');--> statement-breakpoint
CREATE TYPE "commerce"."payment_method" AS ENUM('card', 'paystack', 'wallet');--> statement-breakpoint
CREATE TYPE "commerce"."payment_status" AS ENUM('pending', 'success', 'failed', 'refunded');--> statement-breakpoint
CREATE TYPE "commerce"."refund_status" AS ENUM('pending', 'succeeded', 'failed');--> statement-breakpoint
CREATE TYPE "commerce"."voucher_status" AS ENUM('active', 'redeemed', 'disabled');--> statement-breakpoint
CREATE TYPE "enrollment"."enrollment_source" AS ENUM('free', 'payment', 'admin');--> statement-breakpoint
CREATE TYPE "enrollment"."enrollment_status" AS ENUM('in_progress', 'completed', 'dropped', 'revoked');--> statement-breakpoint
CREATE TABLE "platform"."idempotency_keys" (
	"scope" varchar(200) NOT NULL,
	"key" varchar(255) NOT NULL,
	"request_hash" varchar(64) NOT NULL,
	"response_status" integer,
	"response_body" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	CONSTRAINT "idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE TABLE "commerce"."coupon_redemptions" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."coupon_redemptions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"coupon_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"order_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "coupon_redemptions_order_id_unique" UNIQUE("order_id")
);
--> statement-breakpoint
CREATE TABLE "commerce"."coupons" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."coupons_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"code" varchar(40) NOT NULL,
	"kind" "commerce"."coupon_kind" NOT NULL,
	"percent_off" integer,
	"amount_off_minor" integer,
	"currency" varchar(3),
	"course_id" integer,
	"created_by" integer NOT NULL,
	"starts_at" timestamp with time zone,
	"ends_at" timestamp with time zone,
	"max_redemptions" integer,
	"per_user_limit" integer DEFAULT 1 NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "coupons_code_unique" UNIQUE("code"),
	CONSTRAINT "coupons_value_check" CHECK (("commerce"."coupons"."kind" = 'percent' and "commerce"."coupons"."percent_off" between 1 and 100 and "commerce"."coupons"."amount_off_minor" is null)
       or ("commerce"."coupons"."kind" = 'fixed' and "commerce"."coupons"."amount_off_minor" > 0 and "commerce"."coupons"."currency" is not null and "commerce"."coupons"."percent_off" is null))
);
--> statement-breakpoint
CREATE TABLE "commerce"."ledger_accounts" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."ledger_accounts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"kind" "commerce"."ledger_account_kind" NOT NULL,
	"user_id" integer,
	"currency" varchar(3) NOT NULL,
	"balance_minor" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_wallet_not_negative" CHECK ("commerce"."ledger_accounts"."kind" <> 'user_wallet' or "commerce"."ledger_accounts"."balance_minor" >= 0),
	CONSTRAINT "ledger_wallet_has_user" CHECK (("commerce"."ledger_accounts"."kind" = 'user_wallet') = ("commerce"."ledger_accounts"."user_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "commerce"."ledger_entries" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."ledger_entries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"transaction_id" integer NOT NULL,
	"account_id" integer NOT NULL,
	"amount_minor" bigint NOT NULL,
	"balance_after_minor" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_entries_nonzero" CHECK ("commerce"."ledger_entries"."amount_minor" <> 0)
);
--> statement-breakpoint
CREATE TABLE "commerce"."ledger_transactions" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."ledger_transactions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"kind" varchar(40) NOT NULL,
	"reference" varchar(100) NOT NULL,
	"description" varchar(300) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_transactions_reference_unique" UNIQUE("reference")
);
--> statement-breakpoint
CREATE TABLE "commerce"."order_events" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."order_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"order_id" integer NOT NULL,
	"from_status" "commerce"."order_status",
	"to_status" "commerce"."order_status" NOT NULL,
	"reason" varchar(300) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commerce"."orders" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."orders_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"user_id" integer NOT NULL,
	"course_id" integer NOT NULL,
	"course_title" varchar(200) NOT NULL,
	"status" "commerce"."order_status" DEFAULT 'pending' NOT NULL,
	"currency" varchar(3) NOT NULL,
	"list_price_minor" integer NOT NULL,
	"discount_minor" integer DEFAULT 0 NOT NULL,
	"amount_minor" integer NOT NULL,
	"coupon_id" integer,
	"coupon_code" varchar(40),
	"method" "commerce"."payment_method",
	"paid_at" timestamp with time zone,
	"refunded_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_amounts_check" CHECK ("commerce"."orders"."amount_minor" >= 0 and "commerce"."orders"."discount_minor" >= 0)
);
--> statement-breakpoint
CREATE TABLE "commerce"."payments" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."payments_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"transaction_id" varchar(64) NOT NULL,
	"order_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"course_id" integer NOT NULL,
	"method" "commerce"."payment_method" NOT NULL,
	"status" "commerce"."payment_status" DEFAULT 'pending' NOT NULL,
	"amount_minor" integer NOT NULL,
	"currency" varchar(3) NOT NULL,
	"access_code" varchar(100),
	"authorization_url" text,
	"gateway_reference" varchar(100),
	"card_brand" varchar(20),
	"card_last4" varchar(4),
	"failure_code" varchar(40),
	"failure_message" varchar(300),
	"paid_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_transaction_id_unique" UNIQUE("transaction_id")
);
--> statement-breakpoint
CREATE TABLE "commerce"."refunds" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."refunds_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"order_id" integer NOT NULL,
	"payment_id" integer NOT NULL,
	"amount_minor" integer NOT NULL,
	"currency" varchar(3) NOT NULL,
	"status" "commerce"."refund_status" DEFAULT 'pending' NOT NULL,
	"reason" varchar(500) NOT NULL,
	"requested_by" integer NOT NULL,
	"gateway_reference" varchar(100),
	"failure_message" varchar(300),
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	CONSTRAINT "refunds_order_id_unique" UNIQUE("order_id")
);
--> statement-breakpoint
CREATE TABLE "commerce"."voucher_batches" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."voucher_batches_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"count" integer NOT NULL,
	"amount_minor" integer NOT NULL,
	"currency" varchar(3) NOT NULL,
	"expires_at" timestamp with time zone,
	"description" varchar(300),
	"created_by" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commerce"."vouchers" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."vouchers_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"batch_id" integer NOT NULL,
	"code_hash" varchar(64) NOT NULL,
	"code_sealed" text NOT NULL,
	"code_hint" varchar(10) NOT NULL,
	"amount_minor" integer NOT NULL,
	"currency" varchar(3) NOT NULL,
	"expires_at" timestamp with time zone,
	"status" "commerce"."voucher_status" DEFAULT 'active' NOT NULL,
	"redeemed_by" integer,
	"redeemed_at" timestamp with time zone,
	"disabled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "vouchers_code_hash_unique" UNIQUE("code_hash")
);
--> statement-breakpoint
CREATE TABLE "commerce"."webhook_events" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "commerce"."webhook_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"provider" varchar(20) NOT NULL,
	"event_key" varchar(200) NOT NULL,
	"event" varchar(60) NOT NULL,
	"reference" varchar(100),
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone,
	CONSTRAINT "webhook_events_event_key_unique" UNIQUE("event_key")
);
--> statement-breakpoint
CREATE TABLE "enrollment"."enrollments" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "enrollment"."enrollments_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"user_id" integer NOT NULL,
	"course_id" integer NOT NULL,
	"status" "enrollment"."enrollment_status" DEFAULT 'in_progress' NOT NULL,
	"source" "enrollment"."enrollment_source" NOT NULL,
	"payment_id" integer,
	"order_id" integer,
	"enrolled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"revoke_reason" varchar(300),
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "commerce"."coupon_redemptions" ADD CONSTRAINT "coupon_redemptions_coupon_id_coupons_id_fk" FOREIGN KEY ("coupon_id") REFERENCES "commerce"."coupons"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."coupon_redemptions" ADD CONSTRAINT "coupon_redemptions_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "commerce"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."ledger_entries" ADD CONSTRAINT "ledger_entries_transaction_id_ledger_transactions_id_fk" FOREIGN KEY ("transaction_id") REFERENCES "commerce"."ledger_transactions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."ledger_entries" ADD CONSTRAINT "ledger_entries_account_id_ledger_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "commerce"."ledger_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."order_events" ADD CONSTRAINT "order_events_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "commerce"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."orders" ADD CONSTRAINT "orders_coupon_id_coupons_id_fk" FOREIGN KEY ("coupon_id") REFERENCES "commerce"."coupons"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."payments" ADD CONSTRAINT "payments_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "commerce"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."refunds" ADD CONSTRAINT "refunds_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "commerce"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."refunds" ADD CONSTRAINT "refunds_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "commerce"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commerce"."vouchers" ADD CONSTRAINT "vouchers_batch_id_voucher_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "commerce"."voucher_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "platform"."idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "coupon_redemptions_coupon_user_idx" ON "commerce"."coupon_redemptions" USING btree ("coupon_id","user_id");--> statement-breakpoint
CREATE INDEX "coupons_course_idx" ON "commerce"."coupons" USING btree ("course_id");--> statement-breakpoint
CREATE INDEX "coupons_created_by_idx" ON "commerce"."coupons" USING btree ("created_by");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_accounts_key" ON "commerce"."ledger_accounts" USING btree ("kind",coalesce("user_id", 0),"currency");--> statement-breakpoint
CREATE INDEX "ledger_entries_account_idx" ON "commerce"."ledger_entries" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "ledger_entries_transaction_idx" ON "commerce"."ledger_entries" USING btree ("transaction_id");--> statement-breakpoint
CREATE INDEX "order_events_order_idx" ON "commerce"."order_events" USING btree ("order_id","id");--> statement-breakpoint
CREATE INDEX "orders_user_idx" ON "commerce"."orders" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "orders_course_idx" ON "commerce"."orders" USING btree ("course_id");--> statement-breakpoint
CREATE UNIQUE INDEX "orders_one_pending_key" ON "commerce"."orders" USING btree ("user_id","course_id") WHERE "commerce"."orders"."status" = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "orders_one_paid_key" ON "commerce"."orders" USING btree ("user_id","course_id") WHERE "commerce"."orders"."status" = 'paid';--> statement-breakpoint
CREATE INDEX "payments_order_idx" ON "commerce"."payments" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "payments_user_idx" ON "commerce"."payments" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "payments_pending_idx" ON "commerce"."payments" USING btree ("method","created_at") WHERE "commerce"."payments"."status" = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "payments_one_success_per_order_key" ON "commerce"."payments" USING btree ("order_id") WHERE "commerce"."payments"."status" = 'success';--> statement-breakpoint
CREATE INDEX "refunds_pending_idx" ON "commerce"."refunds" USING btree ("created_at") WHERE "commerce"."refunds"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "vouchers_batch_idx" ON "commerce"."vouchers" USING btree ("batch_id","id");--> statement-breakpoint
CREATE INDEX "vouchers_status_idx" ON "commerce"."vouchers" USING btree ("status");--> statement-breakpoint
CREATE INDEX "webhook_events_reference_idx" ON "commerce"."webhook_events" USING btree ("reference");--> statement-breakpoint
CREATE UNIQUE INDEX "enrollments_live_key" ON "enrollment"."enrollments" USING btree ("user_id","course_id") WHERE "enrollment"."enrollments"."status" <> 'revoked';--> statement-breakpoint
CREATE UNIQUE INDEX "enrollments_payment_key" ON "enrollment"."enrollments" USING btree ("payment_id") WHERE "enrollment"."enrollments"."payment_id" is not null;--> statement-breakpoint
CREATE INDEX "enrollments_user_idx" ON "enrollment"."enrollments" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "enrollments_course_idx" ON "enrollment"."enrollments" USING btree ("course_id","id");