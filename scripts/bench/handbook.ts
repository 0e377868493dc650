// The bench's question set: a small handbook (one topic per page) and questions whose answer
// page is known. The questions are worded differently from the text (other word forms,
// synonyms, question words), so lexical search cannot simply match the sentence.

export const HANDBOOK: string[][] = [
  [
    "Welcome to the Marlow Harbour staff handbook.",
    "This handbook explains how the harbour works, who to call, and what to do when something goes wrong.",
  ],
  [
    "Opening hours.",
    "The harbour office opens at seven in the morning and closes at six in the evening from Monday to Saturday.",
    "On Sundays only the fuel dock is staffed, from nine until noon.",
  ],
  [
    "Mooring fees.",
    "Visiting boats pay twelve euros per metre of hull length for each night spent at a berth.",
    "Boats longer than twenty metres must book a berth two days ahead.",
  ],
  [
    "Fuel dock.",
    "Diesel and petrol are sold at the fuel dock on the eastern pier.",
    "Payment is by card only; the pumps stop automatically after four hundred litres.",
  ],
  [
    "Fire safety.",
    "Extinguishers hang at the end of every pontoon and are inspected each March.",
    "In case of fire, raise the alarm at the red box beside the harbour office and move boats upwind.",
  ],
  [
    "Waste and recycling.",
    "Bilge water and engine oil go to the sealed tank behind the workshop.",
    "Glass, paper and plastic are collected separately in the blue containers near the car park.",
  ],
  [
    "Tides.",
    "The harbour entrance dries at low water on spring tides.",
    "Skippers should not enter or leave within two hours of low water when the coefficient is above ninety.",
  ],
  [
    "Weather warnings.",
    "Gale warnings are posted on the noticeboard and broadcast on VHF channel sixteen.",
    "When winds exceed forty knots the harbour master may close the entrance.",
  ],
  [
    "The workshop.",
    "Members may hire the boat lift for hauling out hulls up to eight tonnes.",
    "Antifouling and sanding are only allowed inside the fenced area with the dust extractor running.",
  ],
  [
    "Electricity on the pontoons.",
    "Each berth has a sixteen amp socket that is paid by prepaid card.",
    "Cards are topped up at the office; unused credit is refunded at the end of the season.",
  ],
  [
    "Showers and laundry.",
    "The shower block uses tokens bought at the office, one token for six minutes of hot water.",
    "Two washing machines and a dryer stand in the room next to the showers.",
  ],
  [
    "Diving in the harbour.",
    "Nobody may dive or swim in the harbour basin without written permission from the harbour master.",
    "Hull inspections by professional divers are booked through the office.",
  ],
  [
    "Speed limit.",
    "Inside the breakwater the speed limit is three knots and no wake may be made.",
    "Jet skis must leave the harbour at idle speed and keep to the marked channel.",
  ],
  [
    "Security.",
    "The pontoon gates open with a code that changes on the first day of every month.",
    "Night watchmen patrol between ten in the evening and six in the morning.",
  ],
  [
    "Winter storage.",
    "Boats stored ashore over winter stand on cradles in the northern yard.",
    "Owners must remove batteries and gas bottles before the boat is lifted out.",
  ],
  [
    "Sailing school.",
    "The sailing school runs dinghy courses for children aged eight to fourteen every summer.",
    "Adults can book keelboat lessons on weekday evenings in May and June.",
  ],
  [
    "Fishing.",
    "Angling from the pontoons is forbidden, but the outer breakwater is open to anglers at all times.",
    "Commercial fishing boats unload their catch at the western quay before eight in the morning.",
  ],
  [
    "Lost property.",
    "Items found in the harbour are kept at the office for three months.",
    "After that they are given to a local charity shop.",
  ],
  [
    "Dogs.",
    "Dogs are welcome on the pontoons if they are kept on a lead.",
    "Owners must clean up after their pets and use the bins by the gate.",
  ],
  [
    "Emergency contacts.",
    "The coastguard answers on VHF channel sixteen and on the phone number 196.",
    "The harbour master's mobile number is printed on the back of every berth contract.",
  ],
  [
    "Events.",
    "The regatta takes place on the second weekend of August and closes the inner basin for two days.",
    "A fireworks display over the water ends the regatta on Sunday night.",
  ],
  [
    "Parking.",
    "Berth holders receive one parking permit for the car park behind the office.",
    "Trailers may be left in the yard for a maximum of forty-eight hours.",
  ],
  [
    "Complaints.",
    "Complaints are made in writing to the harbour committee, which meets on the first Tuesday of each month.",
    "An answer is sent within four weeks.",
  ],
  [
    "Environmental rules.",
    "Using antifouling paint containing copper is discouraged, and tributyltin paint is banned completely.",
    "Grey water tanks must be emptied at the pump-out station, never into the basin.",
  ],
  [
    "부산 지점 안내.",
    "부산 지점은 해운대 근처에 있으며 여름에만 운영된다.",
    "방문객은 사무실에서 출입 카드를 받아야 한다.",
  ],
  ["안전 교육.", "모든 직원은 매년 봄에 응급 처치 교육을 받는다.", "교육은 사무실 이층 회의실에서 진행된다."],
];

/** Questions with the page (1-based) that answers them. */
export const QUESTIONS: { q: string; page: number }[] = [
  { q: "When does the office open in the morning?", page: 2 },
  { q: "Is anyone at the harbour on Sunday?", page: 2 },
  { q: "How much does one night cost for a visiting boat?", page: 3 },
  { q: "Do large yachts need to reserve a berth in advance?", page: 3 },
  { q: "Where can I buy diesel?", page: 4 },
  { q: "Can I pay cash for petrol?", page: 4 },
  { q: "Where are the fire extinguishers kept?", page: 5 },
  { q: "What should I do if a boat catches fire?", page: 5 },
  { q: "Where do I dispose of used engine oil?", page: 6 },
  { q: "Which containers take recycled glass?", page: 6 },
  { q: "When is it dangerous to enter the harbour at low tide?", page: 7 },
  { q: "Which radio channel broadcasts gale warnings?", page: 8 },
  { q: "Can the entrance be closed in strong wind?", page: 8 },
  { q: "How heavy a hull can the boat lift haul out?", page: 9 },
  { q: "Where am I allowed to sand my hull?", page: 9 },
  { q: "How do I pay for shore power at my berth?", page: 10 },
  { q: "Is leftover electricity credit refunded?", page: 10 },
  { q: "How long does a shower token last?", page: 11 },
  { q: "Is there a washing machine?", page: 11 },
  { q: "May I swim in the basin?", page: 12 },
  { q: "What is the maximum speed inside the breakwater?", page: 13 },
  { q: "How often does the gate code change?", page: 14 },
  { q: "When do the night guards patrol?", page: 14 },
  { q: "What must be taken off a boat before winter storage ashore?", page: 15 },
  { q: "Are there sailing lessons for kids?", page: 16 },
  { q: "Can I fish from the pontoon?", page: 17 },
  { q: "Where do fishermen land their catch?", page: 17 },
  { q: "How long is lost property kept?", page: 18 },
  { q: "Are dogs allowed on the pontoons?", page: 19 },
  { q: "What number reaches the coastguard?", page: 20 },
  { q: "When is the regatta held?", page: 21 },
  { q: "How long may a trailer stay in the yard?", page: 22 },
  { q: "Who handles written complaints?", page: 23 },
  { q: "Which hull paints are banned?", page: 24 },
  { q: "Where should grey water be pumped out?", page: 24 },
  { q: "부산 지점은 언제 운영되나요?", page: 25 },
  { q: "응급 처치 교육은 어디서 하나요?", page: 26 },
];
