-- Lookups.
CREATE TABLE meal_type (id SMALLINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE weekday (id SMALLINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE unit (id SMALLINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE ownership (id SMALLINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE join_type (id SMALLINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);

INSERT INTO meal_type VALUES (1, 'Breakfast'), (2, 'Snack'), (3, 'Lunch'), (4, 'Dinner');
INSERT INTO weekday VALUES
    (1, 'Monday'), (2, 'Tuesday'), (3, 'Wednesday'), (4, 'Thursday'),
    (5, 'Friday'), (6, 'Saturday'), (7, 'Sunday');
INSERT INTO unit VALUES
    (1, 'kg'), (2, 'pound'), (3, 'lb'), (4, 'tbsp'), (5, 'tsp'),
    (6, 'ounce'), (7, 'quantity'), (8, 'litre'), (9, 'cup'), (10, 'grams');
INSERT INTO ownership VALUES (1, 'owner'), (2, 'resident'), (3, 'blocked');
INSERT INTO join_type VALUES (1, 'invitation'), (2, 'join request');

-- People and households.
CREATE TABLE user_info (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    username TEXT NOT NULL
);

CREATE TABLE house (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    grocery_day SMALLINT NOT NULL REFERENCES weekday (id),
    household_number INTEGER NOT NULL CHECK (household_number > 0)
);

CREATE TABLE member_of (
    user_id BIGINT NOT NULL REFERENCES user_info (id) ON DELETE CASCADE,
    house_id BIGINT NOT NULL REFERENCES house (id) ON DELETE CASCADE,
    ownership SMALLINT NOT NULL REFERENCES ownership (id),
    PRIMARY KEY (user_id, house_id)
);
CREATE INDEX member_of_house ON member_of (house_id);

CREATE TABLE join_pending (
    id BIGSERIAL PRIMARY KEY,
    house_id BIGINT NOT NULL REFERENCES house (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES user_info (id) ON DELETE CASCADE,
    join_type SMALLINT NOT NULL REFERENCES join_type (id),
    UNIQUE (house_id, user_id)
);
CREATE INDEX join_pending_user ON join_pending (user_id);

-- Recipes.
CREATE TABLE recipe (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    serves_for INTEGER NOT NULL CHECK (serves_for > 0),
    image TEXT
);
CREATE INDEX recipe_name ON recipe (lower(name));

CREATE TABLE recipe_type (
    recipe_id BIGINT NOT NULL REFERENCES recipe (id) ON DELETE CASCADE,
    meal_type SMALLINT NOT NULL REFERENCES meal_type (id),
    PRIMARY KEY (recipe_id, meal_type)
);

CREATE TABLE user_recipe (
    user_id BIGINT NOT NULL REFERENCES user_info (id) ON DELETE CASCADE,
    recipe_id BIGINT NOT NULL REFERENCES recipe (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, recipe_id)
);
CREATE INDEX user_recipe_recipe ON user_recipe (recipe_id);

CREATE TABLE house_recipe (
    house_id BIGINT NOT NULL REFERENCES house (id) ON DELETE CASCADE,
    recipe_id BIGINT NOT NULL REFERENCES recipe (id) ON DELETE CASCADE,
    PRIMARY KEY (house_id, recipe_id)
);
CREATE INDEX house_recipe_recipe ON house_recipe (recipe_id);

CREATE TABLE ingredient (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    carb REAL NOT NULL DEFAULT 0 CHECK (carb >= 0),
    protein REAL NOT NULL DEFAULT 0 CHECK (protein >= 0),
    fat REAL NOT NULL DEFAULT 0 CHECK (fat >= 0),
    fiber REAL NOT NULL DEFAULT 0 CHECK (fiber >= 0),
    calories REAL NOT NULL DEFAULT 0 CHECK (calories >= 0)
);

CREATE TABLE step (
    recipe_id BIGINT NOT NULL REFERENCES recipe (id) ON DELETE CASCADE,
    id INTEGER NOT NULL CHECK (id > 0),
    text TEXT NOT NULL,
    PRIMARY KEY (recipe_id, id)
);

CREATE TABLE step_ingredient (
    recipe_id BIGINT NOT NULL,
    step_id INTEGER NOT NULL,
    ingredient_id BIGINT NOT NULL REFERENCES ingredient (id),
    unit SMALLINT NOT NULL REFERENCES unit (id),
    amount REAL NOT NULL CHECK (amount > 0),
    PRIMARY KEY (recipe_id, step_id, ingredient_id),
    FOREIGN KEY (recipe_id, step_id) REFERENCES step (recipe_id, id) ON DELETE CASCADE
);
CREATE INDEX step_ingredient_ingredient ON step_ingredient (ingredient_id);

-- The pantry and the weekly plan.
CREATE TABLE item_in_storage (
    house_id BIGINT NOT NULL REFERENCES house (id) ON DELETE CASCADE,
    ingredient_id BIGINT NOT NULL REFERENCES ingredient (id),
    amount REAL NOT NULL CHECK (amount >= 0),
    unit SMALLINT NOT NULL REFERENCES unit (id),
    PRIMARY KEY (house_id, ingredient_id)
);

CREATE TABLE schedule (
    house_id BIGINT NOT NULL REFERENCES house (id) ON DELETE CASCADE,
    weekday SMALLINT NOT NULL REFERENCES weekday (id),
    meal_type SMALLINT NOT NULL REFERENCES meal_type (id),
    recipe_id BIGINT REFERENCES recipe (id) ON DELETE SET NULL,
    PRIMARY KEY (house_id, weekday, meal_type)
);
CREATE INDEX schedule_recipe ON schedule (recipe_id);
