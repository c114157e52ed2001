-- Content: pages, blogs with their articles, navigation menus.
-- Expand-only: new tables nothing earlier reads.

CREATE TABLE pages (
    id              uuid        PRIMARY KEY,
    handle          text        NOT NULL CONSTRAINT pages_handle_key UNIQUE
                                CONSTRAINT pages_handle_format CHECK (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title           text        NOT NULL CONSTRAINT pages_title_present CHECK (length(btrim(title)) > 0),
    -- What the merchant wrote (HTML or Markdown) and its sanitized HTML, which is what is served.
    body_source     text        NOT NULL DEFAULT '',
    body_format     text        NOT NULL DEFAULT 'html' CONSTRAINT pages_body_format_known CHECK (body_format IN ('html', 'markdown')),
    body_html       text        NOT NULL DEFAULT '',
    published       boolean     NOT NULL DEFAULT false,
    -- Set when first published; shoppers see a page once it is published and this has come.
    published_at    timestamptz,
    seo_title       text        NOT NULL DEFAULT '',
    seo_description text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Handles a page had before: old links answer 301 to the current one.
CREATE TABLE page_handle_redirects (
    old_handle text PRIMARY KEY,
    page_id    uuid NOT NULL REFERENCES pages (id) ON DELETE CASCADE
);

CREATE TABLE blogs (
    id         uuid        PRIMARY KEY,
    handle     text        NOT NULL CONSTRAINT blogs_handle_key UNIQUE
                           CONSTRAINT blogs_handle_format CHECK (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title      text        NOT NULL CONSTRAINT blogs_title_present CHECK (length(btrim(title)) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Every store starts with one blog, "News" at /blogs/news.
INSERT INTO blogs (id, handle, title) VALUES (gen_random_uuid(), 'news', 'News');

CREATE TABLE articles (
    id              uuid        PRIMARY KEY,
    blog_id         uuid        NOT NULL REFERENCES blogs (id) ON DELETE CASCADE,
    handle          text        NOT NULL CONSTRAINT articles_handle_format CHECK (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title           text        NOT NULL CONSTRAINT articles_title_present CHECK (length(btrim(title)) > 0),
    author          text        NOT NULL DEFAULT '',
    body_source     text        NOT NULL DEFAULT '',
    body_format     text        NOT NULL DEFAULT 'html' CONSTRAINT articles_body_format_known CHECK (body_format IN ('html', 'markdown')),
    body_html       text        NOT NULL DEFAULT '',
    -- The excerpt shown in the blog's list (sanitized HTML; empty: the list shows none).
    summary_html    text        NOT NULL DEFAULT '',
    tags            text[]      NOT NULL DEFAULT '{}',
    image_url       text,
    published       boolean     NOT NULL DEFAULT false,
    -- Shoppers see an article once it is published and this has come (so posts can be scheduled).
    published_at    timestamptz,
    seo_title       text        NOT NULL DEFAULT '',
    seo_description text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT articles_handle_key UNIQUE (blog_id, handle)
);
-- The blog's public list: newest first, keyset-paginated.
CREATE INDEX articles_blog_published ON articles (blog_id, published_at DESC, id DESC) WHERE published;

CREATE TABLE article_handle_redirects (
    blog_id    uuid NOT NULL REFERENCES blogs (id) ON DELETE CASCADE,
    old_handle text NOT NULL,
    article_id uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (blog_id, old_handle)
);

CREATE TABLE menus (
    id         uuid        PRIMARY KEY,
    handle     text        NOT NULL CONSTRAINT menus_handle_key UNIQUE
                           CONSTRAINT menus_handle_format CHECK (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title      text        NOT NULL CONSTRAINT menus_title_present CHECK (length(btrim(title)) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A menu's links in order; an item with a parent is nested one level under it.
CREATE TABLE menu_items (
    id        uuid    PRIMARY KEY,
    menu_id   uuid    NOT NULL REFERENCES menus (id) ON DELETE CASCADE,
    parent_id uuid    REFERENCES menu_items (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    title     text    NOT NULL CONSTRAINT menu_items_title_present CHECK (length(btrim(title)) > 0),
    -- What it links to: a collection, product, page or blog by handle, an article as
    -- `blog-handle/article-handle`, or a URL (a path on the store or an http(s) address).
    kind      text    NOT NULL CONSTRAINT menu_items_kind_known CHECK (kind IN ('collection', 'product', 'page', 'blog', 'article', 'url')),
    target    text    NOT NULL DEFAULT ''
);
CREATE INDEX menu_items_menu ON menu_items (menu_id, position);

-- The two menus every theme reads.
WITH main AS (
    INSERT INTO menus (id, handle, title) VALUES (gen_random_uuid(), 'main-menu', 'Main menu') RETURNING id
)
INSERT INTO menu_items (id, menu_id, position, title, kind, target)
SELECT gen_random_uuid(), main.id, 1, 'Home', 'url', '/' FROM main
UNION ALL
SELECT gen_random_uuid(), main.id, 2, 'News', 'blog', 'news' FROM main;

WITH footer AS (
    INSERT INTO menus (id, handle, title) VALUES (gen_random_uuid(), 'footer', 'Footer') RETURNING id
)
INSERT INTO menu_items (id, menu_id, position, title, kind, target)
SELECT gen_random_uuid(), footer.id, 1, 'Search', 'url', '/search' FROM footer;
