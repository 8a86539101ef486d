/**
 * Vocabulary of generated benchmark courses (`lectern seed --courses N`). Titles combine a level, one
 * of ~300 topics and a suffix; subtitles and descriptions draw from phrase pools. Topics are listed
 * roughly by popularity and drawn with a mild skew, so a popular word such as "python" matches a few
 * percent of the catalog and most topic words well under one percent, as in a real catalog; filler
 * words ("course", "lessons") still match nearly everything, so broad queries exist too.
 */

/** `name|tag|category slug` (tag: the topic's own tag; category: one of the demo tree's slugs, or empty). */
const TOPIC_LINES = `
Python|python|data-science
JavaScript|javascript|web-development
Excel|excel|finance
Digital Marketing|marketing|marketing
Machine Learning|machine-learning|data-science
Web Development|web|web-development
Graphic Design|graphic-design|graphic-design
Data Science|data-science|data-science
Photography|photography|design
Personal Finance|personal-finance|finance
React|react|web-development
Java|java|programming
SQL|sql|data-science
Project Management|project-management|business
Leadership|leadership|business
AWS|aws|programming
English Grammar|english|english
Drawing|drawing|design
Public Speaking|public-speaking|business
Accounting|accounting|finance
Spanish|spanish|languages
Node.js|nodejs|web-development
Docker|docker|programming
Copywriting|copywriting|marketing
Stock Trading|trading|finance
UX Design|ux|ux-design
Kubernetes|kubernetes|programming
TypeScript|typescript|web-development
C#|csharp|programming
Figma|figma|ux-design
SEO|seo|marketing
Deep Learning|deep-learning|data-science
Cybersecurity|security|programming
French|french|french
Android|android|mobile-development
Flutter|flutter|mobile-development
Power BI|power-bi|data-science
Statistics|statistics|data-science
Video Editing|video|design
Adobe Photoshop|photoshop|graphic-design
Linux|linux|programming
Git|git|programming
C++|cpp|programming
Go|golang|programming
Rust|rust|programming
Angular|angular|web-development
Vue.js|vue|web-development
Django|django|web-development
Flask|flask|web-development
FastAPI|fastapi|web-development
Next.js|nextjs|web-development
PHP|php|web-development
Laravel|laravel|web-development
Ruby on Rails|rails|web-development
Spring Boot|spring|web-development
ASP.NET Core|dotnet|web-development
GraphQL|graphql|web-development
REST APIs|api|web-development
HTML|html|web-development
CSS|css|web-development
Tailwind CSS|tailwind|web-development
Sass|sass|web-development
WebAssembly|wasm|web-development
Web Accessibility|accessibility|web-development
Web Performance|performance|web-development
WordPress|wordpress|web-development
Svelte|svelte|web-development
Bootstrap|bootstrap|web-development
jQuery|jquery|web-development
Deno|deno|web-development
Pandas|pandas|data-science
NumPy|numpy|data-science
TensorFlow|tensorflow|data-science
PyTorch|pytorch|data-science
scikit-learn|scikit-learn|data-science
R Programming|r|data-science
PostgreSQL|postgresql|data-science
MySQL|mysql|data-science
MongoDB|mongodb|data-science
Data Visualization|visualization|data-science
Tableau|tableau|data-science
Apache Spark|spark|data-science
Data Engineering|data-engineering|data-science
Natural Language Processing|nlp|data-science
Computer Vision|computer-vision|data-science
Time Series Analysis|time-series|data-science
Bayesian Statistics|bayesian|data-science
A/B Testing|experimentation|data-science
Big Data|big-data|data-science
Hadoop|hadoop|data-science
Kafka|kafka|data-science
Airflow|airflow|data-science
dbt|dbt|data-science
Snowflake|snowflake|data-science
Jupyter|jupyter|data-science
MLOps|mlops|data-science
Reinforcement Learning|reinforcement-learning|data-science
Generative AI|generative-ai|data-science
Prompt Engineering|prompt-engineering|data-science
LLM Applications|llm|data-science
Data Analysis|data-analysis|data-science
Kotlin|kotlin|mobile-development
Swift|swift|mobile-development
SwiftUI|swiftui|mobile-development
iOS Development|ios|mobile-development
Dart|dart|mobile-development
React Native|react-native|mobile-development
Jetpack Compose|jetpack-compose|mobile-development
Ionic|ionic|mobile-development
Mobile UX|mobile-ux|mobile-development
App Store Optimization|app-store|mobile-development
Firebase|firebase|mobile-development
Unity|unity|programming
Unreal Engine|unreal|programming
Godot|godot|programming
Game Development|gamedev|programming
C Programming|c|programming
Scala|scala|programming
Haskell|haskell|programming
Elixir|elixir|programming
Clojure|clojure|programming
Lua|lua|programming
Perl|perl|programming
Ruby|ruby|programming
Bash Scripting|bash|programming
PowerShell|powershell|programming
Terraform|terraform|programming
Ansible|ansible|programming
Microsoft Azure|azure|programming
Google Cloud|gcp|programming
DevOps|devops|programming
CI/CD Pipelines|ci-cd|programming
Microservices|microservices|programming
System Design|system-design|programming
Algorithms|algorithms|programming
Data Structures|data-structures|programming
Design Patterns|design-patterns|programming
Clean Code|clean-code|programming
Unit Testing|testing|programming
Test-Driven Development|tdd|programming
Ethical Hacking|hacking|programming
Network Security|network-security|programming
Penetration Testing|pentesting|programming
Cryptography|cryptography|programming
Blockchain|blockchain|programming
Solidity|solidity|programming
Embedded Systems|embedded|programming
Arduino|arduino|programming
Raspberry Pi|raspberry-pi|programming
Robotics|robotics|programming
Operating Systems|operating-systems|programming
Compilers|compilers|programming
Functional Programming|functional-programming|programming
Concurrency|concurrency|programming
Regular Expressions|regex|programming
Vim|vim|programming
Serverless|serverless|programming
Observability|observability|programming
Site Reliability Engineering|sre|programming
Networking Fundamentals|networking|programming
Cloud Architecture|cloud|programming
Redis|redis|programming
Elasticsearch|elasticsearch|programming
Nginx|nginx|programming
MATLAB|matlab|programming
Assembly Language|assembly|programming
Quantum Computing|quantum|programming
Social Media Marketing|social-media|marketing
Content Marketing|content-marketing|marketing
Email Marketing|email-marketing|marketing
Google Ads|google-ads|marketing
Facebook Ads|facebook-ads|marketing
Instagram Marketing|instagram|marketing
TikTok Marketing|tiktok|marketing
YouTube Growth|youtube|marketing
Affiliate Marketing|affiliate|marketing
Influencer Marketing|influencer|marketing
Brand Strategy|branding|marketing
Marketing Analytics|marketing-analytics|marketing
Growth Hacking|growth|marketing
Public Relations|pr|marketing
Market Research|market-research|marketing
Conversion Optimization|cro|marketing
Podcasting|podcasting|marketing
Video Marketing|video-marketing|marketing
Product Marketing|product-marketing|marketing
B2B Sales|sales|marketing
Sales Funnels|funnels|marketing
Customer Retention|retention|marketing
Investing|investing|finance
Options Trading|options|finance
Cryptocurrency|crypto|finance
Bookkeeping|bookkeeping|finance
Financial Modelling|financial-modelling|finance
Corporate Finance|corporate-finance|finance
Company Valuation|valuation|finance
Financial Analysis|financial-analysis|finance
QuickBooks|quickbooks|finance
Tax Planning|tax|finance
Real Estate Investing|real-estate|finance
Budgeting|budgeting|finance
Retirement Planning|retirement|finance
Forex Trading|forex|finance
Risk Management|risk|finance
Auditing|auditing|finance
Economics|economics|finance
Behavioral Finance|behavioral-finance|finance
Private Equity|private-equity|finance
Venture Capital|venture-capital|finance
Entrepreneurship|entrepreneurship|entrepreneurship
Startup Fundraising|fundraising|entrepreneurship
Business Strategy|strategy|entrepreneurship
Product Management|product|entrepreneurship
Agile|agile|entrepreneurship
Scrum|scrum|entrepreneurship
Lean Startup|lean|entrepreneurship
E-commerce|ecommerce|entrepreneurship
Shopify|shopify|entrepreneurship
Dropshipping|dropshipping|entrepreneurship
Negotiation|negotiation|business
Team Management|management|business
Team Building|teamwork|business
Business Analysis|business-analysis|business
Operations Management|operations|business
Supply Chain|supply-chain|business
Customer Service|customer-service|business
Freelancing|freelancing|entrepreneurship
Consulting|consulting|entrepreneurship
Small Business|small-business|entrepreneurship
Business Law|law|business
Human Resources|hr|business
Recruiting|recruiting|business
Remote Work|remote-work|business
Time Management|time-management|business
Productivity|productivity|business
Communication Skills|communication|business
Emotional Intelligence|emotional-intelligence|business
Critical Thinking|critical-thinking|business
Conflict Resolution|conflict-resolution|business
Change Management|change-management|business
UX Research|ux-research|ux-design
UI Design|ui|ux-design
Sketch|sketch|ux-design
Adobe XD|adobe-xd|ux-design
Prototyping|prototyping|ux-design
Wireframing|wireframing|ux-design
Interaction Design|interaction-design|ux-design
Design Systems|design-systems|ux-design
Usability Testing|usability|ux-design
Information Architecture|information-architecture|ux-design
Service Design|service-design|ux-design
Design Thinking|design-thinking|ux-design
Motion Design|motion-design|ux-design
Adobe Illustrator|illustrator|graphic-design
InDesign|indesign|graphic-design
Typography|typography|graphic-design
Logo Design|logo|graphic-design
Color Theory|color|graphic-design
Illustration|illustration|graphic-design
Digital Painting|digital-painting|graphic-design
Procreate|procreate|graphic-design
Canva|canva|graphic-design
Lightroom|lightroom|design
Portrait Photography|portrait|design
Premiere Pro|premiere|design
After Effects|after-effects|design
DaVinci Resolve|davinci|design
3D Modeling|3d|design
Blender|blender|design
Animation|animation|design
Watercolor|watercolor|design
Calligraphy|calligraphy|design
Interior Design|interior-design|design
Fashion Design|fashion|design
Music Production|music-production|design
Ableton Live|ableton|design
Guitar|guitar|design
Piano|piano|design
Singing|singing|design
Songwriting|songwriting|design
Mixing and Mastering|mixing|design
Business English|business-english|english
IELTS|ielts|english
TOEFL|toefl|english
English Pronunciation|pronunciation|english
English Vocabulary|vocabulary|english
Academic Writing|academic-writing|english
Creative Writing|creative-writing|english
Technical Writing|technical-writing|english
Storytelling|storytelling|english
German|german|languages
Italian|italian|languages
Portuguese|portuguese|languages
Japanese|japanese|languages
Mandarin Chinese|mandarin|languages
Korean|korean|languages
Arabic|arabic|languages
Russian|russian|languages
Swahili|swahili|languages
Yoruba|yoruba|languages
Hindi|hindi|languages
Dutch|dutch|languages
Turkish|turkish|languages
Sign Language|sign-language|languages
Yoga|yoga|
Fitness|fitness|
Nutrition|nutrition|
Meditation|meditation|
Psychology|psychology|
Cooking|cooking|
Baking|baking|
Parenting|parenting|
First Aid|first-aid|
Chess|chess|
Philosophy|philosophy|
World History|history|
Calculus|calculus|
Linear Algebra|linear-algebra|
Physics|physics|
Chemistry|chemistry|
Biology|biology|
Astronomy|astronomy|`;

export interface GeneratedTopic {
  name: string;
  tag: string;
  /** A demo category slug, or null for topics outside the demo tree. */
  category: string | null;
}

export const TOPICS: GeneratedTopic[] = TOPIC_LINES.trim()
  .split('\n')
  .map((line) => {
    const [name, tag, category] = line.split('|') as [string, string, string];
    return { name, tag, category: category || null };
  });

export const LEVELS = [
  'Introduction to',
  'Practical',
  'Advanced',
  'Mastering',
  'Essential',
  'Applied',
  'Modern',
  'The Complete',
  'Hands-on',
  'Fundamentals of',
  'Beginning',
  'Professional',
];

export const SUFFIXES = [
  'for Beginners',
  'in Practice',
  'Bootcamp',
  'Masterclass',
  'Crash Course',
  'for Professionals',
  'Step by Step',
  'Made Simple',
  'Workshop',
  'from Scratch',
  'in 30 Days',
  'for Teams',
  'Deep Dive',
  'Certification Prep',
  'with Projects',
  'Essentials',
];

/** Subtitle and description themes; three per course. */
export const FOCUS = [
  'testing',
  'automation',
  'performance tuning',
  'security',
  'deployment',
  'debugging',
  'architecture',
  'best practices',
  'real-world projects',
  'interview preparation',
  'case studies',
  'career skills',
  'portfolio building',
  'scaling',
  'troubleshooting',
  'analytics',
  'reporting',
  'collaboration',
  'workflows',
  'advanced techniques',
  'tips and tricks',
  'exam practice',
  'hands-on labs',
  'visual thinking',
  'problem solving',
  'planning',
  'optimization',
  'integration',
  'documentation',
  'maintenance',
  'migration',
  'monitoring',
  'data modelling',
  'strategy',
  'measurement',
  'research',
  'budgeting',
  'compliance',
  'governance',
  'quality assurance',
  'mentoring',
  'pricing',
  'client work',
  'creativity',
  'feedback loops',
  'refactoring',
  'experiments',
  'negotiation tactics',
  'presentation skills',
  'remote teamwork',
  'ethics',
  'accessibility',
  'internationalisation',
  'cost control',
  'risk assessment',
  'storyboarding',
  'version control',
  'code review',
  'estimation',
  'onboarding',
];

export const SUBTITLE_OPENERS = [
  'Learn',
  'Master',
  'Practise',
  'Understand',
  'Explore',
  'Get started with',
  'Build skills in',
  'Go deeper into',
];

export const DESCRIPTION_INTROS = [
  'A practical course on',
  'Everything you need to get productive with',
  'A structured path through',
  'Short lessons and exercises on',
  'Learn by doing with',
  'A project-based introduction to',
  'An in-depth look at',
  'A friendly guide to',
  'Real examples and practice with',
  'Build confidence with',
  'Go from first steps to fluency in',
  'A reference-style tour of',
];

export const DESCRIPTION_BODIES = [
  'Each section ends with a quiz and a small project.',
  'Includes downloadable resources and worked examples.',
  'Lessons are short, focused and easy to revisit.',
  'You will work through realistic scenarios from start to finish.',
  'Expect plenty of exercises with full solutions.',
  'Video lectures are paired with reading notes and checklists.',
  'Taught by a practitioner with years of industry experience.',
  'The final module brings everything together in a capstone.',
  'Live examples show common mistakes and how to avoid them.',
  'Suitable for self-paced study alongside a full-time job.',
  'Covers the theory only where it helps the practice.',
  'Includes templates you can reuse at work.',
];

export const DESCRIPTION_OUTCOMES = [
  'Ideal for career changers.',
  'Great preparation for job interviews.',
  'Useful for teams adopting new tools.',
  'Recommended for students and hobbyists alike.',
  'A solid base for the advanced courses in this series.',
  'Comes with a certificate of completion.',
  'Updated regularly with new material.',
  'No prior experience needed beyond curiosity.',
  'Bring your own project and apply each lesson to it.',
  'Includes a community forum for questions.',
];
