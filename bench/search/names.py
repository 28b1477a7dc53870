#!/usr/bin/env python3
"""Generated product names for the search benchmark: Korean, English and mixed, from
brand, flavour, product and size words plus a two-syllable series name, so some words
are common (`라떼`, `Latte`: thousands of products) and others rare (a series: a few).

  names.py COUNT [SEED]        prints COUNT names, one per line (deterministic per SEED)
  names.py queries KIND N      prints N queries: popular (common words, prefixes, mixed)
                               or tail (2-4 character pieces of generated names)
"""
import random
import sys
import unicodedata

BRANDS_KO = ["하늘", "바다", "숲속", "달빛", "햇살", "구름", "들판", "산들", "노을", "별빛",
             "아침", "한빛", "초록", "고요", "온기", "새벽", "바람", "미루", "다온", "가람"]
BRANDS_EN = ["Blue Hill", "Oak", "Maple", "North", "Sunny", "River", "Stone", "Golden",
             "Urban", "Harbor", "Pine", "Cloud", "Metro", "Willow", "Amber", "Cedar"]
FLAVOURS_KO = ["바닐라", "카라멜", "헤이즐넛", "시나몬", "흑당", "말차", "딸기", "초코", "민트",
               "얼그레이", "유자", "자몽", "복숭아", "녹차", "고구마", "흑임자", "아이스", "따뜻한"]
FLAVOURS_EN = ["Vanilla", "Caramel", "Hazelnut", "Cinnamon", "Mocha", "Honey", "Iced", "Hot",
               "Strawberry", "Mint", "Earl Grey", "Citron", "Peach", "Matcha"]
PRODUCTS_KO = ["라떼", "카페라떼", "아메리카노", "콜드브루", "에스프레소", "마키아토", "프라페",
               "스무디", "케이크", "치즈케이크", "머핀", "쿠키", "스콘", "텀블러", "머그컵", "원두",
               "드립백", "티백", "시럽", "샌드위치"]
PRODUCTS_EN = ["Latte", "Americano", "Cold Brew", "Espresso", "Macchiato", "Frappe",
               "Smoothie", "Cake", "Cheesecake", "Muffin", "Cookie", "Scone", "Tumbler", "Mug",
               "Coffee Beans", "Drip Bag", "Tea Bag", "Syrup", "Sandwich", "Latte Macchiato"]
SIZES = ["톨", "그란데", "벤티", "250ml", "355ml", "500ml", "1kg", "200g", "Tall", "Grande",
         "Venti", "2개입", "6 pack", ""]
SYLLABLES = list("가나다라마바사아자차카타파하고노도로모보소오조초미소리온누비솔빛")


def name(rng):
    korean = rng.random() < 0.55
    brand = rng.choice(BRANDS_KO if korean else BRANDS_EN)
    mixed = rng.random() < 0.2
    flavours = FLAVOURS_EN if (korean == mixed) else FLAVOURS_KO
    products = PRODUCTS_KO if korean else PRODUCTS_EN
    parts = [brand]
    if rng.random() < 0.7:
        parts.append(rng.choice(flavours))
    parts.append(rng.choice(products))
    parts.append(rng.choice(SYLLABLES) + rng.choice(SYLLABLES))
    size = rng.choice(SIZES)
    if size:
        parts.append(size)
    return " ".join(parts)


def compact(text):
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in folded if c.isalnum())


POPULAR = ["라떼", "카페라떼", "카페", "아메리카노", "콜드브루", "바닐라", "바닐라라떼", "케이크",
           "치즈", "텀블러", "말차", "딸기", "흑당", "원두", "드립백", "latte", "latt", "lat",
           "americano", "amer", "cold brew", "espresso", "esp", "macchiato", "latte macchiato",
           "vanilla", "van", "cheesecake", "cake", "muffin", "tumbler", "mug", "beans",
           "바닐라 latte", "vanilla 라떼", "말차 latte", "matcha 라떼", "하늘 라떼", "oak latte",
           "blue hill", "아이스 아메리카노", "iced americano", "500ml", "그란데", "grande",
           "유자", "자몽", "honey", "mint", "민트 초코", "earl grey", "스콘", "scone"]


def queries(kind, n, rng):
    if kind == "popular":
        return [rng.choice(POPULAR) for _ in range(n)]
    out = []
    while len(out) < n:
        text = compact(name(rng))
        length = rng.randint(2, 4)
        if len(text) < length:
            continue
        start = rng.randrange(len(text) - length + 1)
        out.append(text[start:start + length])
    return out


def main():
    if sys.argv[1] == "queries":
        kind, n = sys.argv[2], int(sys.argv[3])
        for q in queries(kind, n, random.Random(7)):
            print(q)
        return
    count = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 15)
    for _ in range(count):
        print(name(rng))


if __name__ == "__main__":
    main()
