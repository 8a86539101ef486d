CREATE SCHEMA "catalog";
--> statement-breakpoint
CREATE TYPE "catalog"."course_status" AS ENUM('draft', 'published', 'archived');--> statement-breakpoint
CREATE TYPE "catalog"."difficulty" AS ENUM('Beginner', 'Intermediate', 'Advanced');--> statement-breakpoint
CREATE TYPE "catalog"."lesson_type" AS ENUM('video', 'text', 'document', 'quiz', 'live');--> statement-breakpoint
CREATE TABLE "catalog"."categories" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "catalog"."categories_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"parent_id" integer,
	"name" varchar(100) NOT NULL,
	"slug" varchar(120) NOT NULL,
	"position" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "categories_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "catalog"."course_instructors" (
	"course_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"role" varchar(16) DEFAULT 'co' NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "course_instructors_course_id_user_id_pk" PRIMARY KEY("course_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "catalog"."course_prerequisites" (
	"course_id" integer NOT NULL,
	"required_course_id" integer NOT NULL,
	CONSTRAINT "course_prerequisites_course_id_required_course_id_pk" PRIMARY KEY("course_id","required_course_id")
);
--> statement-breakpoint
CREATE TABLE "catalog"."courses" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "catalog"."courses_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"slug" varchar(140) NOT NULL,
	"title" varchar(200) NOT NULL,
	"subtitle" varchar(300),
	"description" text DEFAULT '' NOT NULL,
	"category_id" integer,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"difficulty" "catalog"."difficulty" DEFAULT 'Beginner' NOT NULL,
	"language" varchar(35) DEFAULT 'en' NOT NULL,
	"price_minor" integer DEFAULT 0 NOT NULL,
	"currency" varchar(3) DEFAULT 'NGN' NOT NULL,
	"cover_image_key" varchar(200),
	"cover_image_url" varchar(2048),
	"owner_id" integer NOT NULL,
	"instructor_name" varchar(100) NOT NULL,
	"status" "catalog"."course_status" DEFAULT 'draft' NOT NULL,
	"published_at" timestamp with time zone,
	"archived_at" timestamp with time zone,
	"duration_minutes" integer DEFAULT 0 NOT NULL,
	"rating_avg" numeric(3, 2) DEFAULT 0 NOT NULL,
	"rating_count" integer DEFAULT 0 NOT NULL,
	"enrollment_count" integer DEFAULT 0 NOT NULL,
	"search_vector" "tsvector",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "courses_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "catalog"."lessons" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "catalog"."lessons_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"course_id" integer NOT NULL,
	"section_id" integer NOT NULL,
	"title" varchar(200) NOT NULL,
	"type" "catalog"."lesson_type" DEFAULT 'text' NOT NULL,
	"position" integer NOT NULL,
	"duration_minutes" integer DEFAULT 0 NOT NULL,
	"is_preview" boolean DEFAULT false NOT NULL,
	"body" text DEFAULT '' NOT NULL,
	"resources" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"release_after_days" integer,
	"release_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "catalog"."sections" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "catalog"."sections_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"course_id" integer NOT NULL,
	"title" varchar(200) NOT NULL,
	"position" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "catalog"."tags" (
	"name" varchar(50) PRIMARY KEY NOT NULL,
	"course_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "catalog"."course_instructors" ADD CONSTRAINT "course_instructors_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "catalog"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog"."course_prerequisites" ADD CONSTRAINT "course_prerequisites_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "catalog"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog"."course_prerequisites" ADD CONSTRAINT "course_prerequisites_required_course_id_courses_id_fk" FOREIGN KEY ("required_course_id") REFERENCES "catalog"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog"."courses" ADD CONSTRAINT "courses_category_id_categories_id_fk" FOREIGN KEY ("category_id") REFERENCES "catalog"."categories"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog"."lessons" ADD CONSTRAINT "lessons_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "catalog"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog"."lessons" ADD CONSTRAINT "lessons_section_id_sections_id_fk" FOREIGN KEY ("section_id") REFERENCES "catalog"."sections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog"."sections" ADD CONSTRAINT "sections_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "catalog"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "categories_parent_idx" ON "catalog"."categories" USING btree ("parent_id","position");--> statement-breakpoint
CREATE INDEX "course_instructors_user_idx" ON "catalog"."course_instructors" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "courses_search_idx" ON "catalog"."courses" USING gin ("search_vector");--> statement-breakpoint
CREATE INDEX "courses_title_trgm_idx" ON "catalog"."courses" USING gin ("title" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "courses_tags_idx" ON "catalog"."courses" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "courses_published_idx" ON "catalog"."courses" USING btree ("status","published_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "courses_category_idx" ON "catalog"."courses" USING btree ("status","category_id");--> statement-breakpoint
CREATE INDEX "courses_difficulty_idx" ON "catalog"."courses" USING btree ("status","difficulty");--> statement-breakpoint
CREATE INDEX "courses_language_idx" ON "catalog"."courses" USING btree ("status","language");--> statement-breakpoint
CREATE INDEX "courses_price_idx" ON "catalog"."courses" USING btree ("status","price_minor","id");--> statement-breakpoint
CREATE INDEX "courses_rating_idx" ON "catalog"."courses" USING btree ("status","rating_avg" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "courses_popular_idx" ON "catalog"."courses" USING btree ("status","enrollment_count" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "courses_owner_idx" ON "catalog"."courses" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "courses_instructor_trgm_idx" ON "catalog"."courses" USING gin ("instructor_name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "lessons_section_idx" ON "catalog"."lessons" USING btree ("section_id","position");--> statement-breakpoint
CREATE INDEX "lessons_course_idx" ON "catalog"."lessons" USING btree ("course_id");--> statement-breakpoint
CREATE INDEX "sections_course_idx" ON "catalog"."sections" USING btree ("course_id","position");--> statement-breakpoint
CREATE INDEX "tags_name_trgm_idx" ON "catalog"."tags" USING gin ("name" gin_trgm_ops);